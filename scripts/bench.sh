#!/usr/bin/env bash
# The foundation benchmark: a fresh single node (ring 64, n_val 3), 50
# workers, get:update 5:1, 1 KiB values, truncated pareto over 100k keys,
# after the bare net/http ceiling with the identical workload in the same
# run; prints both and the ratios; then the same workload over Protocol
# Buffers against the same node. Usage: scripts/bench.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
BIN=bin/riakgo
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/riakgo
DATA=$(mktemp -d)
PORT=${BENCH_PORT:-18098}
PBPORT=${BENCH_PB_PORT:-18087}
SEED=${BENCH_SEED:-$(date +%s)}
OUT=${BENCH_OUT:-bench-results}
mkdir -p "$OUT"
"$BIN" start --data-dir "$DATA" --http 127.0.0.1:$PORT --pb 127.0.0.1:$PBPORT --cluster 127.0.0.1:0 --gossip 127.0.0.1:0 --log-level warn > "$OUT/node.log" 2>&1 &
NODE=$!
trap 'kill $NODE 2>/dev/null || true; wait $NODE 2>/dev/null || true; rm -rf "$DATA"' EXIT
for i in $(seq 1 300); do
  curl -sf http://127.0.0.1:$PORT/ping >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration "$DURATION" \
  --mix get:5,update:1 --keys 100000 --keygen pareto --value-size 1024 \
  --interval 10s --csv "$OUT/riakgo.csv" --ceiling-first --seed "$SEED"
echo
echo "== the same workload over Protocol Buffers (same node) =="
"$BIN" bench --protocol pb --pb 127.0.0.1:$PBPORT --workers 50 --duration "$DURATION" \
  --mix get:5,update:1 --keys 100000 --keygen pareto --value-size 1024 \
  --interval 10s --csv "$OUT/riakgo-pb.csv" --seed "$SEED"
