#!/bin/sh
# Regenerates the committed fuzz seeds (tests/fuzz/corpus/*/seed-*) and
# tests/fuzz/fixtures.h from a real consentd (tests/fuzz/mkseeds.c).
# Run from the repository root after "make"; writes only under tests/fuzz/
# and $BUILD/fuzz/. Hand-written seeds (names not starting with "seed-")
# and regression inputs (crash-*) are left alone.
set -eu

BUILD=${BUILD:-build}
PKGS="openssl libevent lmdb jansson libcurl zlib cmocka"
out=$BUILD/fuzz/mkseeds

make --no-print-directory BUILD="$BUILD" all "$BUILD/libcb.a" "$BUILD/liblc.a"
mkdir -p "$BUILD/fuzz"
# shellcheck disable=SC2046
cc -std=c11 -O1 -g -D_GNU_SOURCE -I. -Icommon -Ikeys -Iagreements -Ibroker \
	-Iclient -Itests/integration $(pkg-config --cflags $PKGS) \
	-o "$out" tests/fuzz/mkseeds.c tests/integration/harness.c \
	"$BUILD/liblc.a" "$BUILD/libcb.a" $(pkg-config --libs $PKGS) -pthread
find tests/fuzz/corpus -name 'seed-*' -type f -delete 2>/dev/null || true
CB_BUILD=$BUILD "$out"
