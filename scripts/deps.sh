#!/bin/sh
# Installs the Debian packages consent-broker needs to build, run and test,
# but only those that are missing. Safe to run repeatedly.
set -eu

PKGS="build-essential pkg-config libssl-dev libevent-dev liblmdb-dev
libjansson-dev libcurl4-openssl-dev libcmocka-dev libjwt-dev zlib1g-dev curl openssl jq
python3 python3-jwt python3-cryptography"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: not root and no sudo; install these packages yourself:$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
