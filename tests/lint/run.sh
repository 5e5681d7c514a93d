#!/bin/sh
# Static analysis: cppcheck and clang-tidy over the project's own code.
# The checks are listed in tests/lint/clang-tidy-checks (one per line,
# "-" disables) and the cppcheck options below. Prints every finding and
# ends with "lint: N passed, N failed" (one per tool).
set -u
cd "$(dirname "$0")/../.."
SRC="common keys agreements broker client bench"
INC="-I. -Icommon -Ikeys -Iagreements -Ibroker -Iclient"
PKGS="openssl libevent lmdb jansson libcurl zlib libjwt"
passed=0
failed=0

echo "== cppcheck"
if cppcheck --quiet --enable=warning,portability,performance --inline-suppr \
    --error-exitcode=1 --library=tests/lint/cppcheck-libs.cfg $INC \
    --suppress=missingIncludeSystem -D_GNU_SOURCE $SRC; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

echo "== clang-tidy"
checks=$(grep -v '^#' tests/lint/clang-tidy-checks | tr '\n' ',' | sed 's/,$//')
flags="-std=c11 -D_GNU_SOURCE $INC $(pkg-config --cflags $PKGS 2>/dev/null)"
out=$(mktemp)
find $SRC -name '*.c' | sort | xargs -P 2 -n 4 sh -c \
    'clang-tidy -quiet --checks="$0" "$@" -- '"$flags"' 2>/dev/null' \
    "$checks" >"$out"
if grep -E "(warning|error):" "$out"; then
	failed=$((failed + 1))
else
	passed=$((passed + 1))
fi
rm -f "$out"
echo
echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
