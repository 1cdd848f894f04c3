#!/bin/sh
# tls-scan.sh BINARY — Debian's testssl.sh against `fieldsyncd serve` over
# HTTPS on a free loopback port, with a fresh self-signed certificate made
# as deploy/run-demo.sh makes the demo's (`make tls-scan`; not part of
# make test: a full scan takes a few minutes).  The findings and what they
# mean: deploy/OPERATIONS.md, "TLS scan".  Exit status: testssl's.
set -eu
bin=${1:?usage: tls-scan.sh BUILD/fieldsyncd}
out=${TLS_SCAN_OUT:-build/tls-scan}
command -v testssl >/dev/null || { echo "tls-scan: testssl missing (apt-get install testssl.sh)" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-tls.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
"$bin" init --data "$dir/data" >/dev/null
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
umask 022
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --data "$dir/data" --listen "127.0.0.1:$port" --cert "$dir/cert.pem" --key "$dir/key.pem" \
	2>"$dir/serve.log" &
pid=$!
i=0
until curl -s --cacert "$dir/cert.pem" -o /dev/null "https://127.0.0.1:$port/healthz"; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$dir/serve.log" >&2; exit 1; }
	sleep 0.1
done
mkdir -p "$out"
rm -f "$out/testssl.json" "$out/testssl.log"
# --ip one: the loopback address only;
# the page scanned is the app shell at / (its headers: server/http/web.c)
set +e
testssl --quiet --color 0 --ip one --warnings batch --jsonfile "$out/testssl.json" \
	--logfile "$out/testssl.log" "https://127.0.0.1:$port/"
rc=$?
set -e
echo "tls-scan: findings above; log $out/testssl.log, JSON $out/testssl.json"
exit $rc
