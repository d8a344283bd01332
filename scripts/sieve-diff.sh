#!/bin/sh
# Differential check of the sieve package against Pigeonhole's sieve-test (apt-get install
# dovecot-sieve): a generated corpus of scripts and messages must give the same actions and flags.
set -eu
cd "$(dirname "$0")/.."
exec go test -tags sievediff -run TestDifferential -count=1 "$@" ./sieve/
