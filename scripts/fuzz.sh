#!/usr/bin/env bash
# Runs every fuzz target of the module (every func FuzzXxx in a _test.go
# file) for a while each: `make test` runs it with a few seconds per target,
# `make fuzz` longer. A failing input is written to the package's
# testdata/fuzz/ by go test and the script stops there.
#
# usage: scripts/fuzz.sh [SECONDS-PER-TARGET]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
go=${GO:-go}
targets=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . |
  grep -v node_modules | sort | while read -r f; do
    dir=$(dirname "$f")
    grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed 's/^func //' | sed "s|^|$dir |"
  done)
n=$(printf '%s\n' "$targets" | grep -c .)
echo "== fuzzing $n targets, ${secs}s each"
start=$SECONDS
while read -r dir name; do
  [ -z "$dir" ] && continue
  printf '   %-40s %s\n' "$dir" "$name"
  if ! out=$("$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "$dir" 2>&1); then
    echo "$out" | tail -n 30
    echo "fuzz.sh: $name in $dir failed"
    exit 1
  fi
done <<<"$targets"
echo "== $n fuzz targets passed in $((SECONDS - start))s"
