#!/usr/bin/env bash
# The foundation benchmark: a fresh single node (ring 64, n_val 3), 50
# workers, get:update 5:1, 1 KiB values, truncated pareto over 100k keys.
# The headline is the loaded store: the whole keyspace (100k keys) is
# preloaded on the bare net/http ceiling and on riakgo before each is
# measured, ceiling first, in the same run; both and the ratios are printed
# per operation. Then the light variant (5,000 keys preloaded, as before)
# against the same node, and the loaded workload over Protocol Buffers.
# Usage: scripts/bench.sh [DURATION]
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
echo "== loaded: the whole keyspace preloaded on both =="
"$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration "$DURATION" \
  --mix get:5,update:1 --keys 100000 --keygen pareto --value-size 1024 --preload 100000 \
  --interval 10s --csv "$OUT/riakgo.csv" --ceiling-first --seed "$SEED"
echo
echo "== light: 5,000 keys preloaded, new bucket (the earlier headline) =="
"$BIN" bench --url http://127.0.0.1:$PORT --bucket light --workers 50 --duration "$DURATION" \
  --mix get:5,update:1 --keys 100000 --keygen pareto --value-size 1024 --preload 5000 \
  --interval 10s --csv "$OUT/riakgo-light.csv" --ceiling-first --seed "$SEED"
echo
echo "== the same workload over Protocol Buffers (same node) =="
"$BIN" bench --protocol pb --pb 127.0.0.1:$PBPORT --workers 50 --duration "$DURATION" \
  --mix get:5,update:1 --keys 100000 --keygen pareto --value-size 1024 \
  --interval 10s --csv "$OUT/riakgo-pb.csv" --seed "$SEED"
