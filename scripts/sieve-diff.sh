#!/bin/sh
# Differential checks against Pigeonhole (apt-get install dovecot-sieve): the sieve package
# against sieve-test on a generated corpus of scripts and messages (the same actions and flags),
# and script:run against sieve-filter -e -W on two copies of one seeded Dovecot mailbox (the same
# messages in the same folders with the same flags).
set -eu
cd "$(dirname "$0")/.."
go test -tags sievediff -run TestDifferential -count=1 "$@" ./sieve/
exec go test -tags sievediff -run TestSieveRunDifferential -count=1 "$@" ./stdlib/
