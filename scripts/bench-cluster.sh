#!/usr/bin/env bash
# The foundation workload against a 3-process loopback cluster and against
# a single node, in the same run. Usage: scripts/bench-cluster.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
DATA=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
wait_up() { for i in $(seq 1 300); do curl -sf "$1/ping" >/dev/null 2>&1 && return; sleep 0.1; done; echo "no answer from $1"; exit 1; }
run_bench() {
  "$BIN" bench --url "$1" --workers 50 --duration "$DURATION" --mix get:5,update:1 \
    --keys 100000 --keygen pareto --value-size 1024 --interval 20s | tail -5
}

echo "== 3-process cluster"
for i in 1 2 3; do
  "$BIN" start --name riakgo$i@127.0.0.1 --data-dir "$DATA/c$i" --http 127.0.0.1:1840$i \
    --cluster 127.0.0.1:1850$i --gossip 127.0.0.1:1860$i --log-level warn >"$DATA/c$i.log" 2>&1 &
  PIDS+=($!)
done
for i in 1 2 3; do wait_up http://127.0.0.1:1840$i; done
"$BIN" admin --url http://127.0.0.1:18402 cluster join 127.0.0.1:18601 >/dev/null
"$BIN" admin --url http://127.0.0.1:18403 cluster join 127.0.0.1:18601 >/dev/null
for i in $(seq 1 100); do
  "$BIN" admin --url http://127.0.0.1:18401 cluster plan 2>/dev/null | grep -q "riakgo3@" && break; sleep 0.2
done
"$BIN" admin --url http://127.0.0.1:18401 cluster commit >/dev/null
for i in $(seq 1 150); do
  "$BIN" admin --url http://127.0.0.1:18401 ring-status 2>/dev/null | grep -q "No pending changes" && break; sleep 0.2
done
"$BIN" admin --url http://127.0.0.1:18401 member-status | grep "'riakgo"
run_bench http://127.0.0.1:18401
for p in "${PIDS[@]}"; do kill "$p"; done; wait 2>/dev/null || true; PIDS=()

echo "== single node"
"$BIN" start --data-dir "$DATA/single" --http 127.0.0.1:18400 --cluster 127.0.0.1:18500 \
  --gossip 127.0.0.1:18600 --log-level warn >"$DATA/single.log" 2>&1 &
PIDS+=($!)
wait_up http://127.0.0.1:18400
run_bench http://127.0.0.1:18400
