#!/bin/sh
# bench/callgrind_writer.sh BUILD OUT UPDATES — the writer's instruction
# counts (BENCHMARKS.md, "The write tail"): fieldsyncd under
# valgrind --tool=callgrind on a fresh store in a temp dir, the bench's
# setup (5 shifts, 5 supervisors), then `loadgen fs-ingest` with 5,000
# inserts (5 clients x 10 batches of 100) and UPDATES updates (10 clients,
# batches of 100; 0: none).  The profile is written to OUT; print the
# inclusive counts with
#   callgrind_annotate --inclusive=yes OUT | grep -E 'run_txn|apply_op|audit_op'
# A run with UPDATES=0 and one with 1000: the difference is 1,000 updates.
set -eu
B=${1:?build dir}
OUT=${2:?callgrind output file}
UPD=${3:-1000}
T=$(mktemp -d)
SRV=
trap 'if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; fi; rm -rf "$T"' EXIT
"$B/fieldsyncd" init --data "$T/data" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
valgrind --tool=callgrind --callgrind-out-file="$OUT" \
  "$B/fieldsyncd" serve --data "$T/data" --listen "127.0.0.1:$PORT" \
  --insecure-http --rate-address-per-s 1000000 --rate-address-burst 1000000 \
  --rate-device-per-s 1000000 --rate-device-burst 1000000 \
  --lockout-address-after 0 2>"$T/server.log" &
SRV=$!
i=0
until curl -sf "$URL/healthz" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] || { echo "fieldsyncd did not start" >&2; exit 1; }
	sleep 0.2
done
"$B/bench/loadgen" fs-setup --url "$URL" --admin "$T/data/admin.token" \
  --shifts 5 --sups 5 --out "$T/tokens" >/dev/null
"$B/bench/loadgen" fs-ingest --url "$URL" --tokens "$T/tokens" --clients 5 \
  --batches 10 --per 100 --updates "$UPD" --upd-clients 10
kill -TERM "$SRV"
wait "$SRV" || true
SRV=
