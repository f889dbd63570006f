#!/usr/bin/env bash
# The foundation workload on a loaded store at several sizes: for each size
# (default 100k, 1M and 5M keys, 1 KiB values, n_val 3) a fresh single
# node is loaded with every key (put-only, 50 workers: the load rate), then
# measured for DURATION (50 workers, get:update 5:1, truncated pareto over
# the whole keyspace); it reports ops/s, p50/p99/p99.9, the node's resident
# memory at the end and its disk use, next to its memory budget. Between
# the load and the run it waits for the load's compactions to finish
# (reported as "settle") and warms the caches with the same workload,
# unmeasured, until the object cache's hit rate is steady (reported as
# "warm-up"); it reports the object and block cache hit rates of the
# measured run.
# Usage: scripts/bench-scale.sh [DURATION] (default 60s); SIZES="100000 ..."
# picks the sizes; MEMORY passes --memory to the node.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
SIZES="${SIZES:-100000 1000000 5000000}"
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
PORT=${BENCH_PORT:-18198}
# BENCH_DATA keeps the loaded stores there (node-SIZE) across runs: a size
# already loaded is reused (its load figures too), so the load can run at
# one time (LOAD_ONLY=1: load and settle, no measurement) and the
# measurement at another, on a quiet machine.
DATA=${BENCH_DATA:-$(mktemp -d)}
KEEP=${BENCH_DATA:+1}
# The warm-up (see below): steps of WARMUP_STEP, WARMUP_MIN_S..WARMUP_MAX_S
# seconds in all.
WARMUP_STEP=${WARMUP_STEP:-60s}
WARMUP_MIN_S=${WARMUP_MIN_S:-120}
WARMUP_MAX_S=${WARMUP_MAX_S:-2400}
OUT=${BENCH_OUT:-bench-results}
mkdir -p "$OUT" "$DATA"
NODE=
cleanup() { [ -n "$NODE" ] && kill "$NODE" 2>/dev/null; wait 2>/dev/null || true; [ -n "$KEEP" ] || rm -rf "$DATA"; }
trap cleanup EXIT
mem_args=()
[ -n "${MEMORY:-}" ] && mem_args=(--memory "$MEMORY")
# PPROF=ADDR serves the node's profiles there (riakgo start --pprof).
[ -n "${PPROF:-}" ] && mem_args+=(--pprof "$PPROF")

# stat_of NAME... prints the node's /stats values, one per line.
stat_of() {
  curl -s http://127.0.0.1:$PORT/stats | python3 -c 'import json,sys; d=json.load(sys.stdin); [print(int(d[k])) for k in sys.argv[1:]]' "$@"
}

# hit_rate H0 M0 H1 M1 DIGITS prints the hit rate (percent) between two
# readings of a cache's hit and miss counters, or - if there was no lookup.
hit_rate() {
  python3 -c "h=$3-$1; m=$4-$2; print(f'{100*h/(h+m):.${5}f}' if h+m else '-')"
}

summary=()
for n in $SIZES; do
  dir="$DATA/node-$n"
  [ -f "$dir/loaded" ] || rm -rf "$dir"
  "$BIN" start --data-dir "$dir" --http 127.0.0.1:$PORT --pb off --cluster 127.0.0.1:0 --gossip 127.0.0.1:0 \
    --log-level warn "${mem_args[@]}" >"$OUT/scale-$n.log" 2>&1 &
  NODE=$!
  # (a store from an earlier version first computes its sums: minutes)
  for i in $(seq 1 6000); do curl -sf http://127.0.0.1:$PORT/ping >/dev/null 2>&1 && break; sleep 0.1; done
  budget=$(curl -s http://127.0.0.1:$PORT/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["riakgo_memory_budget_bytes"])')
  echo "== $n keys (memory budget $((budget >> 20)) MiB)"
  if [ ! -f "$dir/loaded" ]; then
    # The load: every key once, put-only (the measured part is a 1 s no-op).
    "$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration 1s --mix get:1 --keys "$n" --keygen uniform \
      --value-size 1024 --preload "$n" --interval 1h --seed 1 >"$OUT/scale-$n-load.txt" 2>&1
    cp "$OUT/scale-$n-load.txt" "$dir/load.txt"
  else
    echo "(reusing the store loaded earlier in $dir)"
    cp "$dir/load.txt" "$OUT/scale-$n-load.txt"
  fi
  load=$(grep -o 'preloaded [0-9]* keys in [0-9.]*s' "$OUT/scale-$n-load.txt")
  secs=$(echo "$load" | awk '{print $5}' | tr -d s)
  rate=$(python3 -c "print(round($n/$secs))")
  echo "load: $load ($rate keys/s)"
  # A loaded store is a settled one: wait (at most 20 minutes) until the
  # engine has had no compaction to run for 10 s in a row, as a store in
  # service would be.
  settle_start=$(date +%s)
  quiet=0
  for i in $(seq 1 1200); do
    busy=$(stat_of riakgo_storage_compactions_in_progress)
    if [ "$busy" = "0" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 10 ] && break
    sleep 1
  done
  settle=$(( $(date +%s) - settle_start ))
  echo "compactions settled in ${settle}s (read amplification $(stat_of riakgo_storage_read_amplification))"
  touch "$dir/loaded"
  if [ -n "${LOAD_ONLY:-}" ]; then
    kill "$NODE"; wait "$NODE" 2>/dev/null || true; NODE=
    continue
  fi
  # Warm the caches with the same workload (another seed), unmeasured, in
  # steps of WARMUP_STEP until the store is in its steady state: the
  # object cache's hit rate rose by less than a quarter of a point over the last step
  # (at least WARMUP_MIN, at most WARMUP_MAX). A node in service has served
  # its workload for hours; at 5M keys the caches take many minutes to
  # fill, since most early draws touch a key for the first time.
  warm_start=$(date +%s)
  prev=-100
  step=0
  while :; do
    step=$((step + 1))
    read -r h0 m0 <<<"$(stat_of riakgo_object_cache_hits riakgo_object_cache_misses | tr '\n' ' ')"
    wops=$("$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration "$WARMUP_STEP" --mix get:5,update:1 --keys "$n" \
      --keygen pareto --value-size 1024 --interval 1h --seed $((100 + step)) 2>&1 | awk '/^summary/ {print $5}')
    read -r h1 m1 <<<"$(stat_of riakgo_object_cache_hits riakgo_object_cache_misses | tr '\n' ' ')"
    hit=$(hit_rate "$h0" "$m0" "$h1" "$m1" 1)
    [ "$hit" = - ] && hit=0
    elapsed=$(( $(date +%s) - warm_start ))
    echo "warm-up step $step (${elapsed}s): $wops ops/s, object cache hits $hit%, rss $(( $(ps -o rss= -p "$NODE") >> 10 )) MiB"
    steady=$(python3 -c "print(1 if $hit - $prev < 0.25 else 0)")
    prev=$hit
    [ "$elapsed" -ge "$WARMUP_MIN_S" ] && [ "$steady" = 1 ] && break
    [ "$elapsed" -ge "$WARMUP_MAX_S" ] && { echo "warm-up: not steady after ${elapsed}s, measuring anyway"; break; }
  done
  warm=$(( $(date +%s) - warm_start ))
  read -r oh0 om0 bh0 bm0 <<<"$(stat_of riakgo_object_cache_hits riakgo_object_cache_misses riakgo_storage_block_cache_hits riakgo_storage_block_cache_misses | tr '\n' ' ')"
  "$BIN" bench --url http://127.0.0.1:$PORT --workers 50 --duration "$DURATION" --mix get:5,update:1 --keys "$n" \
    --keygen pareto --value-size 1024 --interval 20s --seed 2 --csv "$OUT/scale-$n.csv" | tee "$OUT/scale-$n-run.txt" | tail -5
  read -r oh1 om1 bh1 bm1 <<<"$(stat_of riakgo_object_cache_hits riakgo_object_cache_misses riakgo_storage_block_cache_hits riakgo_storage_block_cache_misses | tr '\n' ' ')"
  ohit=$(hit_rate "$oh0" "$om0" "$oh1" "$om1" 0)
  bhit=$(hit_rate "$bh0" "$bm0" "$bh1" "$bm1" 0)
  [ "$ohit" = - ] || ohit+=%
  [ "$bhit" = - ] || bhit+=%
  echo "hit rates during the run: object cache $ohit, block cache $bhit"
  rss=$(( $(ps -o rss= -p "$NODE") * 1024 ))
  disk=$(du -sb "$dir" | awk '{print $1}')
  line=$(grep '^total' "$OUT/scale-$n-run.txt")
  ops=$(echo "$line" | awk '{print $3}')
  p50=$(echo "$line" | awk '{print $5}')
  p99=$(echo "$line" | awk '{print $6}')
  p999=$(echo "$line" | awk '{print $7}')
  echo "rss $((rss >> 20)) MiB, disk $((disk >> 20)) MiB"
  summary+=("$(printf '| %s | %s | %s ms | %s ms | %s ms | %s MiB | %s MiB | %s MiB | %s keys/s | %s s | %s s | %s / %s |' \
    "$n" "$ops" "$p50" "$p99" "$p999" "$((rss >> 20))" "$((budget >> 20))" "$((disk >> 20))" "$rate" "$settle" "$warm" "$ohit" "$bhit")")
  kill "$NODE"; wait "$NODE" 2>/dev/null || true; NODE=
done
echo
echo "| keys | ops/s | p50 | p99 | p99.9 | RSS | budget | disk | load rate | settle | warm-up | object / block cache hits |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
