#!/bin/sh
# Runs test binaries (cmocka), shows their output, and ends with one summary
# line "tests: N passed, N failed". Exits non-zero if any test failed or any
# binary crashed.
set -u
label=$1
shift
passed=0
failed=0
crashed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	echo "== $t"
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
		echo "!! $t exited with status $rc without a cmocka summary"
		crashed=$((crashed + 1))
	fi
done
echo
echo "$label: $passed passed, $((failed + crashed)) failed"
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
