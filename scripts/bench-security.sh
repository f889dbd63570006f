#!/usr/bin/env bash
# The cost of security: the foundation workload (50 workers, get:update 5:1,
# 1 KiB values, truncated pareto over 100k keys) against one fresh node,
# first over plain HTTP with security off, then over HTTPS with security on
# (TLS, Basic credentials checked against an Argon2id hash, grants checked
# on every request), same node, same seed, same run.
# Usage: scripts/bench-security.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
WORK=$(mktemp -d)
PORT=${BENCH_PORT:-18098}
TLSPORT=${BENCH_TLS_PORT:-18443}
SEED=${BENCH_SEED:-$(date +%s)}
OUT=${BENCH_OUT:-bench-results}
mkdir -p "$OUT"
# A throwaway CA and a certificate for 127.0.0.1.
(
  cd "$WORK"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bench CA" -keyout ca-key.pem -out ca.pem
  openssl req -newkey rsa:2048 -nodes -subj "/CN=bench node" -keyout node-key.pem -out node.csr
  printf 'subjectAltName=IP:127.0.0.1\n' >node.ext
  openssl x509 -req -in node.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 -extfile node.ext -out node.pem
) >"$OUT/certs.log" 2>&1
"$BIN" start --data-dir "$WORK/data" --http 127.0.0.1:$PORT --https 127.0.0.1:$TLSPORT --pb off \
  --cluster 127.0.0.1:0 --gossip 127.0.0.1:0 --tls-cert "$WORK/node.pem" --tls-key "$WORK/node-key.pem" \
  --tls-ca "$WORK/ca.pem" --log-level warn >"$OUT/node-security.log" 2>&1 &
NODE=$!
trap 'kill $NODE 2>/dev/null || true; wait $NODE 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do
  curl -sf http://127.0.0.1:$PORT/ping >/dev/null 2>&1 && break
  sleep 0.1
done
WORKLOAD=(--workers 50 --duration "$DURATION" --mix get:5,update:1 --keys 100000 --keygen pareto
  --value-size 1024 --interval 10s --seed "$SEED")
echo "== security off: plain HTTP =="
"$BIN" bench --url http://127.0.0.1:$PORT "${WORKLOAD[@]}" --csv "$OUT/security-off.csv" | tee "$OUT/security-off.txt"
A=(admin --url http://127.0.0.1:$PORT security)
"$BIN" "${A[@]}" add-user bench password=bench-password-1
"$BIN" "${A[@]}" add-source all 127.0.0.1/32 password
"$BIN" "${A[@]}" grant riak_kv.get,riak_kv.put on default bench to bench
"$BIN" "${A[@]}" enable
echo
echo "== security on: HTTPS, Basic credentials, grants =="
"$BIN" bench --url https://127.0.0.1:$TLSPORT --cacert "$WORK/ca.pem" --user bench --password bench-password-1 \
  "${WORKLOAD[@]}" --csv "$OUT/security-on.csv" | tee "$OUT/security-on.txt"
