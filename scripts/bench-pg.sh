#!/usr/bin/env bash
# Process groups on a 3-process loopback cluster: join, members, pick and
# leave rates (riakgo pg bench). Usage:
#   scripts/bench-pg.sh [GROUPS] [MEMBERS] [WORKERS] [READS]
# (defaults 10000 groups of 100 members, 32 workers, 50000 reads and picks).
set -euo pipefail
cd "$(dirname "$0")/.."
GROUPS_N="${1:-10000}"
MEMBERS="${2:-100}"
WORKERS="${3:-32}"
READS="${4:-50000}"
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
DATA=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
wait_up() { for i in $(seq 1 300); do curl -sf "$1/ping" >/dev/null 2>&1 && return; sleep 0.1; done; echo "no answer from $1"; exit 1; }

for i in 1 2 3; do
  "$BIN" start --name riakgo$i@127.0.0.1 --data-dir "$DATA/c$i" --http 127.0.0.1:1870$i \
    --cluster 127.0.0.1:1880$i --gossip 127.0.0.1:1890$i --log-level warn >"$DATA/c$i.log" 2>&1 &
  PIDS+=($!)
done
for i in 1 2 3; do wait_up http://127.0.0.1:1870$i; done
"$BIN" admin --url http://127.0.0.1:18702 cluster join 127.0.0.1:18901 >/dev/null
"$BIN" admin --url http://127.0.0.1:18703 cluster join 127.0.0.1:18901 >/dev/null
for i in $(seq 1 100); do
  "$BIN" admin --url http://127.0.0.1:18701 cluster plan 2>/dev/null | grep -q "riakgo3@" && break; sleep 0.2
done
"$BIN" admin --url http://127.0.0.1:18701 cluster commit >/dev/null
for i in $(seq 1 150); do
  "$BIN" admin --url http://127.0.0.1:18701 ring-status 2>/dev/null | grep -q "No pending changes" && break; sleep 0.2
done
"$BIN" admin --url http://127.0.0.1:18701 member-status | grep "'riakgo"
"$BIN" pg bench --urls http://127.0.0.1:18701,http://127.0.0.1:18702,http://127.0.0.1:18703 \
  --groups "$GROUPS_N" --members "$MEMBERS" --workers "$WORKERS" --reads "$READS"
du -sh "$DATA"/c1 "$DATA"/c2 "$DATA"/c3
