#!/usr/bin/env bash
# Key-listing memory benchmark: load N keys (default 1,000,000) into a fresh
# node, restart it so it is idle, then stream ?keys=stream and compare the
# node's peak RSS during the stream with its idle RSS.
# Usage: scripts/bench-listing.sh [KEYS] [extra riakgo start flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS="${1:-1000000}"; shift || true
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
DATA=$(mktemp -d)
PORT=${BENCH_PORT:-18097}
URL=http://127.0.0.1:$PORT
NODE=
cleanup() { [ -n "$NODE" ] && kill "$NODE" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
start() {
  "$BIN" start --data-dir "$DATA" --http 127.0.0.1:$PORT --pb off --log-level warn "$@" >>"$DATA.log" 2>&1 &
  NODE=$!
  for i in $(seq 1 300); do curl -sf $URL/ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "node did not start"; exit 1
}
kib() { awk -v k="$1" '$1==k":" {print $2}' /proc/$NODE/status; }

start "$@"
echo "loading $KEYS keys (100-byte values) ..."
t0=$(date +%s)
"$BIN" bench --url $URL --bucket list --keys "$KEYS" --preload "$KEYS" --duration 1s \
  --mix get:1 --value-size 100 --workers 32 --interval 1h >/dev/null
echo "loaded in $(( $(date +%s) - t0 )) s"
kill -TERM $NODE; wait $NODE || true
start "$@"
sleep 2
idle=$(kib VmRSS)
echo 5 > /proc/$NODE/clear_refs   # reset the peak-RSS counter
t0=$(date +%s%N)
count=$(curl -sN "$URL/buckets/list/keys?keys=stream" | grep -o '"[0-9]*"' | wc -l)
t1=$(date +%s%N)
peak=$(kib VmHWM)
echo "streamed $count keys in $(( (t1 - t0) / 1000000 )) ms"
echo "idle RSS ${idle} KiB, peak RSS while streaming ${peak} KiB, growth $(( (peak - idle) / 1024 )) MiB"
