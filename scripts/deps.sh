#!/bin/sh
# Installs the Debian packages consent-broker needs to build, run and test,
# but only those that are missing. Safe to run repeatedly.
# python3-jwcrypto and node-jose (the "jose" module, in /usr/share/nodejs)
# run the verification snippets of docs/tokens.md (tests/interop).
set -eu

PKGS="build-essential pkg-config libssl-dev libevent-dev liblmdb-dev
libjansson-dev libcurl4-openssl-dev libcmocka-dev libjwt-dev zlib1g-dev curl openssl jq
valgrind cppcheck clang-tidy
python3 python3-jwt python3-cryptography python3-jwcrypto node-jose
lmdb-utils clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

# Installs the Debian packages named in $1 (a list); quiet when it is empty.
apt_install() {
	[ -n "$1" ] || return 0
	echo "deps: installing:$1" >&2
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=""
	elif command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: not root and no sudo; install these packages yourself:$1" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $1 >&2
}

apt_install "$missing"

# ---- browser test (tests/browser, "make browser-test") --------------------
# Debian's chromium (never a browser downloaded by a test tool), a font with
# the macrons of te reo Maori, Node.js and npm, then the test's node_modules
# from its package-lock.json with "npm ci" when missing or older than the
# lock. Node.js may come from another apt source that bundles npm, so node
# and npm are looked for as commands, and Debian's packages are installed
# only when a command is missing.
bmissing=""
for p in chromium fonts-dejavu-core; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		bmissing="$bmissing $p"
	fi
done
command -v node >/dev/null 2>&1 || bmissing="$bmissing nodejs"
command -v npm >/dev/null 2>&1 || bmissing="$bmissing npm"
apt_install "$bmissing"

bdir=$(dirname "$0")/../tests/browser
if [ -f "$bdir/package-lock.json" ] &&
    { [ ! -f "$bdir/node_modules/.package-lock.json" ] ||
    [ "$bdir/package-lock.json" -nt "$bdir/node_modules/.package-lock.json" ]; }; then
	echo "deps: npm ci in tests/browser" >&2
	(cd "$bdir" && npm ci --no-audit --no-fund --loglevel=error </dev/null >&2)
fi
