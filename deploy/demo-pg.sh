#!/bin/sh
# The two-node example on one machine (README.md, "More than one machine"):
# a throwaway PostgreSQL 15 cluster, two fieldsyncd nodes on it, HAProxy
# with TLS in front on https://127.0.0.1:8443/.
#   deploy/demo-pg.sh BINARY DIR      (make demo-pg: build/fieldsyncd var/demo-pg)
# PostgreSQL runs as the user postgres from DIR/pg (tests/pgcluster.py),
# the nodes as the nodes of deploy/fieldsyncd-pg@.service run (plain HTTP on
# 127.0.0.1:8081 and :8082, HAProxy named with --trusted-proxy, photos in
# DIR/blobs), HAProxy from deploy/haproxy/fieldsync.cfg as it is.  First
# run: creates the store and loads the demo property; later runs reuse
# them.  Ctrl-C stops all of it (PostgreSQL too; its data stays in DIR/pg).
set -eu
bin=${1:?usage: demo-pg.sh BINARY DIR}
dir=${2:?usage: demo-pg.sh BINARY DIR}
port=${FIELDSYNC_DEMO_PORT:-8443}
here=$(cd "$(dirname "$0")" && pwd)

case $bin in */*) ;; *) bin=./$bin ;; esac
[ -x "$bin" ] || { echo "demo-pg: $bin is not an executable (run make first)" >&2; exit 1; }
mkdir -p "$dir/blobs" "$dir/tls"
dir=$(cd "$dir" && pwd)

pids=""
stop() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	/usr/bin/python3 "$here/../tests/pgcluster.py" stop "$dir/pg" || true
}
trap stop INT TERM EXIT

# The store's database is made once; later runs start the cluster only.
if [ -f "$dir/store.url" ]; then
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]);
import pgcluster; pgcluster.Cluster(sys.argv[2]).start()' \
		"$here/../tests" "$dir/pg"
	url=$(cat "$dir/store.url")
else
	url=$(/usr/bin/python3 "$here/../tests/pgcluster.py" start "$dir/pg")
	echo "$url" > "$dir/store.url"
fi

tagkey=$dir/tag.key
[ -f "$tagkey" ] || (umask 077; openssl rand -hex 32 > "$tagkey")
if [ ! -f "$dir/.demo-ready" ]; then
	echo "demo-pg: creating the store in $url"
	"$bin" init --store "$url" --data "$dir"
	echo "demo-pg: loading the demo property"
	"$bin" demo --store "$url" --data "$dir" --tag-key-file "$tagkey"
	touch "$dir/.demo-ready"
fi

if [ ! -f "$dir/tls/haproxy.pem" ]; then
	echo "demo-pg: making a self-signed certificate in $dir/tls"
	(umask 077
	 openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
		-subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
	 cat "$dir/tls/cert.pem" "$dir/tls/key.pem" > "$dir/tls/haproxy.pem")
	chmod 0644 "$dir/tls/cert.pem"
fi

for n in 1 2; do
	"$bin" serve --store "$url" --blobs "$dir/blobs" \
		--listen "127.0.0.1:808$n" --insecure-http \
		--trusted-proxy 127.0.0.1 --tag-key-file "$tagkey" \
		>>"$dir/node$n.log" 2>&1 &
	pids="$pids $!"
done
FS_HAPROXY_BIND=127.0.0.1:$port FS_HAPROXY_CERT=$dir/tls/haproxy.pem \
FS_HAPROXY_STATS=127.0.0.1:8404 FS_NODE1=127.0.0.1:8081 \
FS_NODE2=127.0.0.1:8082 \
	/usr/sbin/haproxy -db -f "$here/haproxy/fieldsync.cfg" \
	>>"$dir/haproxy.log" 2>&1 &
pids="$pids $!"

cat <<MSG

fieldsync two-node demo (PostgreSQL $url)
  HAProxy:      https://127.0.0.1:$port/  (node states: http://127.0.0.1:8404/)
  nodes:        127.0.0.1:8081, 127.0.0.1:8082 (logs $dir/node1.log, node2.log)
  admin token:  $dir/admin.token
  try:          curl --cacert $dir/tls/cert.pem https://127.0.0.1:$port/healthz
  stop:         Ctrl-C

MSG
# Until Ctrl-C, or until one of them exits.
while :; do
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || { echo "demo-pg: process $p exited (see the logs in $dir)" >&2; exit 1; }
	done
	sleep 1
done
