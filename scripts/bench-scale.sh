#!/usr/bin/env bash
# The foundation workload on a loaded store at several sizes: for each size
# (default 100k, 1M and 5M keys, 1 KiB values, n_val 3) a fresh single
# node is loaded with every key (put-only, 50 workers: the load rate), then
# measured for DURATION (50 workers, get:update 5:1, truncated pareto over
# the whole keyspace); it reports ops/s, p50/p99/p99.9, the node's resident
# memory at the end and its disk use, next to its memory budget. Between
# the load and the run it waits for the load's compactions to finish
# (reported as "settle"), and it reports the object and block cache hit
# rates of the run.
# Usage: scripts/bench-scale.sh [DURATION] (default 60s); SIZES="100000 ..."
# picks the sizes; MEMORY passes --memory to the node.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
SIZES="${SIZES:-100000 1000000 5000000}"
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
PORT=${BENCH_PORT:-18198}
DATA=$(mktemp -d)
OUT=${BENCH_OUT:-bench-results}
mkdir -p "$OUT"
NODE=
cleanup() { [ -n "$NODE" ] && kill "$NODE" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
mem_args=()
[ -n "${MEMORY:-}" ] && mem_args=(--memory "$MEMORY")

# stat_of NAME... prints the node's /stats values, one per line.
stat_of() {
  curl -s http://127.0.0.1:$PORT/stats | python3 -c 'import json,sys; d=json.load(sys.stdin); [print(int(d[k])) for k in sys.argv[1:]]' "$@"
}

summary=()
for n in $SIZES; do
  rm -rf "$DATA/node"
  "$BIN" start --data-dir "$DATA/node" --http 127.0.0.1:$PORT --pb off --cluster 127.0.0.1:0 --gossip 127.0.0.1:0 \
    --log-level warn "${mem_args[@]}" >"$OUT/scale-$n.log" 2>&1 &
  NODE=$!
  for i in $(seq 1 300); do curl -sf http://127.0.0.1:$PORT/ping >/dev/null 2>&1 && break; sleep 0.1; done
  budget=$(curl -s http://127.0.0.1:$PORT/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["riakgo_memory_budget_bytes"])')
  echo "== $n keys (memory budget $((budget >> 20)) MiB)"
  # The load: every key once, put-only (the measured part is a 1 s no-op).
  "$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration 1s --mix get:1 --keys "$n" --keygen uniform \
    --value-size 1024 --preload "$n" --interval 1h --seed 1 >"$OUT/scale-$n-load.txt" 2>&1
  load=$(grep -o 'preloaded [0-9]* keys in [0-9.]*s' "$OUT/scale-$n-load.txt")
  secs=$(echo "$load" | awk '{print $5}' | tr -d s)
  rate=$(python3 -c "print(round($n/$secs))")
  echo "load: $load ($rate keys/s)"
  # A loaded store is a settled one: wait (at most 20 minutes) until the
  # load's compactions are done, as a store in service would be.
  settle_start=$(date +%s)
  for i in $(seq 1 1200); do
    busy=$(stat_of riakgo_storage_compaction_debt_bytes riakgo_storage_compactions_in_progress | awk '{s+=$1} END {print s}')
    [ "$busy" = "0" ] && break
    sleep 1
  done
  settle=$(( $(date +%s) - settle_start ))
  echo "compactions settled in ${settle}s (read amplification $(stat_of riakgo_storage_read_amplification))"
  read -r oh0 om0 bh0 bm0 <<<"$(stat_of riakgo_object_cache_hits riakgo_object_cache_misses riakgo_storage_block_cache_hits riakgo_storage_block_cache_misses | tr '\n' ' ')"
  "$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration "$DURATION" --mix get:5,update:1 --keys "$n" \
    --keygen pareto --value-size 1024 --interval 20s --seed 2 --csv "$OUT/scale-$n.csv" | tee "$OUT/scale-$n-run.txt" | tail -5
  read -r oh1 om1 bh1 bm1 <<<"$(stat_of riakgo_object_cache_hits riakgo_object_cache_misses riakgo_storage_block_cache_hits riakgo_storage_block_cache_misses | tr '\n' ' ')"
  ohit=$(python3 -c "h=$oh1-$oh0; m=$om1-$om0; print(f'{100*h/(h+m):.0f}%' if h+m else '-')")
  bhit=$(python3 -c "h=$bh1-$bh0; m=$bm1-$bm0; print(f'{100*h/(h+m):.0f}%' if h+m else '-')")
  echo "hit rates during the run: object cache $ohit, block cache $bhit"
  rss=$(( $(ps -o rss= -p "$NODE") * 1024 ))
  disk=$(du -sb "$DATA/node" | awk '{print $1}')
  line=$(grep '^total' "$OUT/scale-$n-run.txt")
  ops=$(echo "$line" | awk '{print $3}')
  p50=$(echo "$line" | awk '{print $5}')
  p99=$(echo "$line" | awk '{print $6}')
  p999=$(echo "$line" | awk '{print $7}')
  echo "rss $((rss >> 20)) MiB, disk $((disk >> 20)) MiB"
  summary+=("$(printf '| %s | %s | %s ms | %s ms | %s ms | %s MiB | %s MiB | %s MiB | %s keys/s | %s s | %s / %s |' \
    "$n" "$ops" "$p50" "$p99" "$p999" "$((rss >> 20))" "$((budget >> 20))" "$((disk >> 20))" "$rate" "$settle" "$ohit" "$bhit")")
  kill "$NODE"; wait "$NODE" 2>/dev/null || true; NODE=
done
echo
echo "| keys | ops/s | p50 | p99 | p99.9 | RSS | budget | disk | load rate | settle | object / block cache hits |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
