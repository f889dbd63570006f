#!/usr/bin/env bash
# The foundation workload against a 3-process loopback cluster and against
# a single node, in the same run. Usage: scripts/bench-cluster.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
BIN=bin/riakgo
. scripts/lib-cluster.sh
run_bench() {
  "$BIN" bench --url "$1" --workers 50 --duration "$DURATION" --mix get:5,update:1 \
    --keys 100000 --keygen pareto --value-size 1024 --interval 20s | tail -5
}

echo "== 3-process cluster"
form_cluster 1840 1850 1860
run_bench http://127.0.0.1:18401
for p in "${PIDS[@]}"; do kill "$p"; done; wait 2>/dev/null || true; PIDS=()

echo "== single node"
"$BIN" start --data-dir "$DATA/single" --http 127.0.0.1:18400 --cluster 127.0.0.1:18500 \
  --gossip 127.0.0.1:18600 --log-level warn >"$DATA/single.log" 2>&1 &
PIDS+=($!)
wait_up http://127.0.0.1:18400
run_bench http://127.0.0.1:18400
