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
. scripts/lib-cluster.sh

form_cluster 1870 1880 1890
"$BIN" pg bench --urls http://127.0.0.1:18701,http://127.0.0.1:18702,http://127.0.0.1:18703 \
  --groups "$GROUPS_N" --members "$MEMBERS" --workers "$WORKERS" --reads "$READS"
du -sh "$DATA"/c1 "$DATA"/c2 "$DATA"/c3
