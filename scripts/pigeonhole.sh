#!/bin/sh
# Fetches Pigeonhole's test suite (tests/**/*.svtest) from Debian's dovecot source package into a
# cache outside the repository and prints the folder it unpacked to. Nothing here is committed.
#   scripts/pigeonhole.sh            fetch (once) and print the unpacked folder
#   MAILSCRIPT_PIGEONHOLE_CACHE=DIR  where to cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/mailscript)
set -eu
cache=${MAILSCRIPT_PIGEONHOLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mailscript/pigeonhole}
mkdir -p "$cache"
cd "$cache"
if [ -d src/tests ]; then
	echo "$cache/src"
	exit 0
fi
tarball=$(ls dovecot_*.orig-pigeonhole.tar.gz 2>/dev/null | head -n 1 || true)
if [ -z "$tarball" ]; then
	# A private apt config: the system lists have deb entries only; a deb-src copy of them
	# goes in a folder of our own, so the system's apt state is untouched.
	apt="$cache/apt"
	mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/archives/partial"
	src=/etc/apt/sources.list.d/debian.sources
	if [ -f "$src" ]; then
		sed 's/^Types: deb$/Types: deb-src/' "$src" >"$apt/sources.list.d/debian.sources"
	else
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$apt/sources.list.d/debian.list"
	fi
	opts="-o Dir::Etc::SourceParts=$apt/sources.list.d -o Dir::Etc::SourceList=/dev/null \
		-o Dir::State::Lists=$apt/lists -o Dir::Cache::Archives=$apt/archives \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root"
	# shellcheck disable=SC2086
	apt-get $opts -qq update >&2
	# The .dsc may 404 from the security suite; the orig tarballs still arrive.
	# shellcheck disable=SC2086
	apt-get $opts -qq source --download-only dovecot >&2 || true
	tarball=$(ls dovecot_*.orig-pigeonhole.tar.gz 2>/dev/null | head -n 1 || true)
	if [ -z "$tarball" ]; then
		echo "pigeonhole.sh: no dovecot_*.orig-pigeonhole.tar.gz fetched into $cache" >&2
		exit 1
	fi
fi
rm -rf src.tmp
mkdir src.tmp
tar -xzf "$tarball" -C src.tmp
# The tarball has one top folder (dovecot-2.3-pigeonhole-0.5.x); flatten it to src.
top=$(ls src.tmp | head -n 1)
mv "src.tmp/$top" src
rmdir src.tmp
echo "$cache/src"
