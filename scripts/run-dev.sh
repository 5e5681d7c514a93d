#!/bin/sh
# Starts consentd on a development data directory, creating it on first run.
# Usage: scripts/run-dev.sh BUILD_DIR DATA_DIR LISTEN
set -eu
build=${1:-build}
data=${2:-var/dev}
listen=${3:-127.0.0.1:8443}

if [ ! -d "$data" ]; then
	mkdir -p "$(dirname "$data")"
	"$build/consentctl" init --dev --data "$data" \
		--issuer "https://$listen"
	echo
fi

cat >&2 <<MSG
consentd: starting on https://$listen with data in $data (development mode)
  CA certificate:      $data/pki/ca.crt
  party certificates:  $data/pki/<party>.crt and .key (dia ird msd wcc registrar auditor admin)
  citizen token:       $build/consentctl dev citizen-token --data $data --subject alice-test
  citizen page:        https://$listen/ (development sign-in; CA above)
  demo provider:       $build/demo-provider --data $data --broker https://$listen
  walkthrough:         README.md ("Walkthrough"); stop with Ctrl-C
MSG
exec "$build/consentd" --data "$data" --listen "$listen" --dev
