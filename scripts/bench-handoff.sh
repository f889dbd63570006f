#!/usr/bin/env bash
# Handoff throughput between two `riakgo start` processes on loopback, next
# to a plain TCP copy of the same bytes between two processes, in one run
# (docs/performance.md, "Handoff throughput"). Extra arguments go to
# `riakgo bench-handoff`, e.g. scripts/bench-handoff.sh --bytes 32MiB
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/riakgo
go build -o "$BIN" ./cmd/riakgo
exec "$BIN" bench-handoff "$@"
