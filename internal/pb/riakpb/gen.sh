#!/usr/bin/env bash
# Generates the Go code of riakgo's Protocol Buffers schema (*.proto here)
# with protoc (Debian's protobuf-compiler, which .ci/run installs) and
# protoc-gen-go at the google.golang.org/protobuf version of go.mod.
#
# usage: gen.sh [OUTDIR]   (default: this directory; `make proto` runs it)
# TestGeneratedCodeIsCurrent runs it into a temporary directory and compares.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
command -v protoc >/dev/null || { echo "gen.sh: protoc is needed (apt-get install protobuf-compiler)" >&2; exit 2; }
bin=$(mktemp -d "${TMPDIR:-/tmp}/riakgo-protoc-gen-go.XXXXXX")
trap 'rm -rf "$bin"' EXIT
(cd "$here" && GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go)
mkdir -p "$out"
cd "$here"
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" -I . \
  --go_out="$out" --go_opt=paths=source_relative \
  riak.proto riak_kv.proto riak_dt.proto
