#!/usr/bin/env bash
# Installs what internal/cyrus and internal/courier need, when it is missing.
#
# Debian's cyrus-imapd, courier-imap and dovecot-imapd (and their POP3
# packages) conflict with each other in apt, so apt installs only the shared,
# non-conflicting parts and the daemon packages are unpacked, at the version
# of the installed core, into $MAILSCRIPT_SERVERS (default
# /opt/mailscript-servers): one folder per package. Running it again does
# nothing unless a package is missing or its version changed.
set -euo pipefail

root=${MAILSCRIPT_SERVERS:-/opt/mailscript-servers}
core=(cyrus-common sasl2-bin courier-base courier-authdaemon courier-authlib-userdb)
daemons=(cyrus-imapd:cyrus-common cyrus-pop3d:cyrus-common courier-imap:courier-base courier-pop:courier-base)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

missing=()
for p in "${core[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  as_root apt-get update -q
  # Never let apt remove anything (Dovecot's daemons above all).
  if as_root apt-get install --simulate --no-install-recommends "${missing[@]}" | grep -q '^Remv'; then
    echo "servers.sh: installing ${missing[*]} would remove packages; refusing" >&2
    exit 1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

as_root mkdir -p "$root"
for d in "${daemons[@]}"; do
  pkg=${d%%:*}
  corever=$(dpkg-query -W -f='${Version}' "${d#*:}")
  if [ "$(cat "$root/$pkg/.core" 2>/dev/null)" = "$corever" ]; then continue; fi
  # The daemon built with the installed core: same version, or (courier-imap)
  # its own version followed by "+" and the core's.
  find_ver() { apt-cache madison "$pkg" | awk -v c="$corever" '$3 == c || substr($3, length($3) - length(c)) == "+" c { print $3; exit }'; }
  ver=$(find_ver)
  if [ -z "$ver" ]; then # package lists missing or stale
    as_root apt-get update -q >/dev/null
    ver=$(find_ver)
  fi
  if [ -z "$ver" ]; then
    echo "servers.sh: no $pkg in apt at the version of ${d#*:} $corever (run apt-get update)" >&2
    exit 1
  fi
  echo "== unpacking $pkg $ver into $root/$pkg"
  tmp=$(mktemp -d)
  if id _apt >/dev/null 2>&1; then as_root chown _apt "$tmp"; fi # apt downloads as _apt
  (cd "$tmp" && apt-get download -q "$pkg=$ver" >/dev/null)
  as_root rm -rf "$root/$pkg.new"
  as_root dpkg-deb -x "$tmp"/"$pkg"_*.deb "$root/$pkg.new"
  echo "$corever" | as_root tee "$root/$pkg.new/.core" >/dev/null
  as_root rm -rf "$root/$pkg"
  as_root mv "$root/$pkg.new" "$root/$pkg"
  as_root rm -rf "$tmp"
done
