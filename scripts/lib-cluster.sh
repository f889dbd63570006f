# Shared by the cluster benchmark scripts (source it after setting BIN).
# Builds BIN, makes DATA, kills the started processes on exit, and
# form_cluster H C G starts three nodes on loopback, HTTP on 127.0.0.1:H1..H3,
# internode on C1..C3 and gossip on G1..G3 (H, C, G are port prefixes such
# as 1840), and joins, plans and commits them.
go build -o "$BIN" ./cmd/riakgo
DATA=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
wait_up() { for i in $(seq 1 300); do curl -sf "$1/ping" >/dev/null 2>&1 && return; sleep 0.1; done; echo "no answer from $1"; exit 1; }
form_cluster() {
  local h=$1 c=$2 g=$3 i
  for i in 1 2 3; do
    "$BIN" start --name riakgo$i@127.0.0.1 --data-dir "$DATA/c$i" --http 127.0.0.1:$h$i --pb off \
      --cluster 127.0.0.1:$c$i --gossip 127.0.0.1:$g$i --log-level warn >"$DATA/c$i.log" 2>&1 &
    PIDS+=($!)
  done
  for i in 1 2 3; do wait_up http://127.0.0.1:$h$i; done
  "$BIN" admin --url http://127.0.0.1:${h}2 cluster join 127.0.0.1:${g}1 >/dev/null
  "$BIN" admin --url http://127.0.0.1:${h}3 cluster join 127.0.0.1:${g}1 >/dev/null
  for i in $(seq 1 100); do
    "$BIN" admin --url http://127.0.0.1:${h}1 cluster plan 2>/dev/null | grep -q "riakgo3@" && break; sleep 0.2
  done
  "$BIN" admin --url http://127.0.0.1:${h}1 cluster commit >/dev/null
  for i in $(seq 1 150); do
    "$BIN" admin --url http://127.0.0.1:${h}1 ring-status 2>/dev/null | grep -q "No pending changes" && break; sleep 0.2
  done
  "$BIN" admin --url http://127.0.0.1:${h}1 member-status | grep "'riakgo"
}
