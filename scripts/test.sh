#!/usr/bin/env bash
# Runs every check CI runs. Installs what the tests need when it is missing:
# Dovecot (IMAP and POP3) from Debian's packages and the system user "vmail"
# its mail processes run as. The tests start their own Dovecot on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# dovecot-core alone has no imap or pop3 program: check for those. dovecot-sieve brings
# sieve-filter, which stdlib's Sieve differential runs.
if [ ! -x /usr/lib/dovecot/imap ] || [ ! -x /usr/lib/dovecot/pop3 ] || ! command -v sieve-filter >/dev/null; then
  echo "== installing Dovecot"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d dovecot-sieve
fi
if [ "$(id -u)" = 0 ] && ! id vmail >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin vmail
fi

# pgstore's tests start a private PostgreSQL from Debian's server binaries.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  echo "== installing PostgreSQL"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi

bash scripts/servers.sh # Cyrus and Courier, beside Dovecot

echo "== go vet"
go vet ./...
echo "== gofmt"
bad=$(gofmt -l .)
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi
echo "== go mod tidy"
go mod tidy -diff
echo "== go test -race"
go test -race -count=1 "$@" ./...
