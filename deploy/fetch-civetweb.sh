#!/bin/sh
# Fetch CivetWeb 1.15 from Debian's *source* package and unpack it into
# $1 (default build/third_party).  Debian 12's libcivetweb1 binary loads
# OpenSSL 3 through a 1.1 function table and crashes on the first HTTPS
# request, so we compile src/civetweb.c ourselves with OPENSSL_API_3_0.
# The system's apt lists are never touched: a private deb-src list and
# private state directory are used.
set -eu
dest=${1:-build/third_party}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ -f "$dest/civetweb/src/civetweb.c" ]; then
	exit 0
fi
work="$dest/apt"
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/src"
cat > "$work/sources.list" <<LIST
deb-src http://deb.debian.org/debian bookworm main
LIST
opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists -o Dir::Cache::Archives=$work/archives"
# shellcheck disable=SC2086
apt-get $opts update -qq
cd "$work/src"
# shellcheck disable=SC2086
apt-get $opts source --download-only civetweb
orig=$(ls civetweb_*.orig.tar.* | head -n 1)
rm -rf "$dest/civetweb.tmp"
mkdir -p "$dest/civetweb.tmp"
tar -xf "$orig" -C "$dest/civetweb.tmp" --strip-components=1
test -f "$dest/civetweb.tmp/src/civetweb.c"
rm -rf "$dest/civetweb"
mv "$dest/civetweb.tmp" "$dest/civetweb"
echo "civetweb source unpacked in $dest/civetweb"
