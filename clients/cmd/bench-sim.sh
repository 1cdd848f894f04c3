#!/bin/sh
# The simulator's full run (issue 3): a fresh fieldsyncd on a free loopback
# port, then fieldsync-sim against it; the server is stopped (by its PID)
# and its store removed afterwards.
#   clients/cmd/bench-sim.sh BUILD_DIR [fieldsync-sim options...]
# (make bench-sim: 50 devices for 60 s; SIM_ARGS="..." changes the load)
set -eu
b=${1:?usage: bench-sim.sh BUILD_DIR [sim options]}
shift
dir=$(mktemp -d /tmp/fieldsync-bench-sim.XXXXXX)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$b/fieldsyncd" init --data "$dir/srv" >/dev/null
"$b/fieldsyncd" serve --data "$dir/srv" --listen "127.0.0.1:$port" \
	--insecure-http >"$dir/server.log" 2>&1 &
pid=$!
i=0
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench-sim: server did not start:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
	sleep 0.1
done
"$b/fieldsync-sim" --server "http://127.0.0.1:$port" \
	--admin-token "$dir/srv/admin.token" --insecure-http "$@"
