#!/usr/bin/env bash
# Five riakgo processes on loopback (ring 64, n_val 3), joined as
# docs/cluster.md says, then:
#  1. metadata convergence: ROUNDS bucket types created and activated
#     through node 1; for each, how long activate took and how long after
#     it returned every node had served a data-type update of that type
#     (one attempt per node, nodes 5..1 in turn);
#  2. the foundation workload spread over the 5 nodes (one `riakgo bench`
#     per node, WORKERS/5 workers each, started together) and the same
#     total against a single node, in the same run, with the share of
#     requests whose node held no replica (coord_redirs_total and
#     riakgo_node_gets_remote_total from /stats).
# Usage: scripts/bench-cluster5.sh [DURATION] (default 60s)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
ROUNDS="${ROUNDS:-20}"
WORKERS="${WORKERS:-50}"
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
DATA=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
wait_up() { for i in $(seq 1 300); do curl -sf "$1/ping" >/dev/null 2>&1 && return; sleep 0.1; done; echo "no answer from $1"; exit 1; }
now_ms() { date +%s%3N; }
H=1870 C=1880 G=1890

for i in 1 2 3 4 5; do
  "$BIN" start --name riakgo$i@127.0.0.1 --data-dir "$DATA/c$i" --http 127.0.0.1:$H$i --pb off \
    --cluster 127.0.0.1:$C$i --gossip 127.0.0.1:$G$i --log-level warn >"$DATA/c$i.log" 2>&1 &
  PIDS+=($!)
done
for i in 1 2 3 4 5; do wait_up http://127.0.0.1:$H$i; done
for i in 2 3 4 5; do "$BIN" admin --url http://127.0.0.1:${H}$i cluster join 127.0.0.1:${G}1 >/dev/null; done
"$BIN" admin --url http://127.0.0.1:${H}1 cluster plan >/dev/null
"$BIN" admin --url http://127.0.0.1:${H}1 cluster commit >/dev/null
for i in $(seq 1 300); do
  "$BIN" admin --url http://127.0.0.1:${H}1 ring-status 2>/dev/null | grep -q "No pending changes" && break; sleep 0.2
done
"$BIN" admin --url http://127.0.0.1:${H}1 member-status | grep "'riakgo"

echo "== metadata convergence ($ROUNDS types)"
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now_ms)
  "$BIN" admin --url http://127.0.0.1:${H}1 bucket-type create ctr$r '{"props":{"datatype":"counter"}}' >/dev/null
  "$BIN" admin --url http://127.0.0.1:${H}1 bucket-type activate ctr$r >/dev/null
  t1=$(now_ms)
  fails=0
  for i in 5 4 3 2 1; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST http://127.0.0.1:$H$i/types/ctr$r/buckets/b/datatypes/k \
      -H 'Content-Type: application/json' -d '{"increment":1}')
    [ "$code" = 204 ] || fails=$((fails + 1))
  done
  t2=$(now_ms)
  echo "type ctr$r: create+activate $((t1 - t0)) ms; all 5 nodes served it $((t2 - t1)) ms after activate returned; first-try failures: $fails"
done

run_benches() { # URLs...
  local n=$# w=$((WORKERS / $#)) i=0 u
  for u in "$@"; do
    i=$((i + 1))
    "$BIN" bench --url "$u" --workers "$w" --duration "$DURATION" --mix get:5,update:1 \
      --keys 100000 --keygen pareto --value-size 1024 --interval 20s --seed "$i" >"$DATA/bench$i.out" 2>&1 &
    BPIDS+=($!)
  done
  for p in "${BPIDS[@]}"; do wait "$p"; done
  BPIDS=()
  for i in $(seq 1 "$n"); do echo "-- bench against node $i"; tail -5 "$DATA/bench$i.out"; done
}
BPIDS=()

echo "== foundation workload over the 5-process cluster ($WORKERS workers, $((WORKERS / 5)) per node)"
before=$(for i in 1 2 3 4 5; do curl -s http://127.0.0.1:$H$i/stats; echo; done)
run_benches http://127.0.0.1:${H}1 http://127.0.0.1:${H}2 http://127.0.0.1:${H}3 http://127.0.0.1:${H}4 http://127.0.0.1:${H}5
after=$(for i in 1 2 3 4 5; do curl -s http://127.0.0.1:$H$i/stats; echo; done)
python3 - "$before" "$after" <<'EOF'
import json, sys
def tot(blob):
    s = {"gets": 0, "puts": 0, "redirs": 0, "remote": 0}
    for line in blob.strip().splitlines():
        m = json.loads(line)
        s["gets"] += m.get("node_gets_total", 0); s["puts"] += m.get("node_puts_total", 0)
        s["redirs"] += m.get("coord_redirs_total", 0); s["remote"] += m.get("riakgo_node_gets_remote_total", 0)
    return s
b, a = tot(sys.argv[1]), tot(sys.argv[2])
d = {k: a[k] - b[k] for k in a}
print(f"forwarded share: {d['redirs']} of {d['puts']} writes coordinated on another node ({100*d['redirs']/max(d['puts'],1):.1f}%), "
      f"{d['remote']} of {d['gets']} reads with no local replica ({100*d['remote']/max(d['gets'],1):.1f}%)")
EOF
for p in "${PIDS[@]}"; do kill "$p"; done; wait 2>/dev/null || true; PIDS=()

echo "== foundation workload against a single node ($WORKERS workers)"
"$BIN" start --data-dir "$DATA/single" --http 127.0.0.1:18700 --pb off --cluster 127.0.0.1:18800 \
  --gossip 127.0.0.1:18900 --log-level warn >"$DATA/single.log" 2>&1 &
PIDS+=($!)
wait_up http://127.0.0.1:18700
run_benches http://127.0.0.1:18700
