# riakgo — see README.md. `make run` starts a single node on the embedded
# defaults (data in ./data, HTTP on 127.0.0.1:8098); `make test` runs every test.

GO       ?= go
BIN      := bin/riakgo
PKGS     := ./...
# Packages with goroutines run under the race detector in `make test`.
RACE_PKGS := ./kv/... ./http/... ./internal/... ./cmd/...
BENCH_DURATION ?= 60s

.PHONY: all build run test test-unit test-race jepsen test-clients test-fuzz fuzz test-fuzz-pb lint fmt bench bench-go bench-listing bench-handoff bench-cluster5 bench-scale bench-security fuzz-smoke proto clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/riakgo

run: build
	./$(BIN) start

# Every test: unit and property tests, the race detector on concurrent
# packages, the real-process end-to-end tests, lint, a short fuzz of every
# fuzz target (every decoder, the handshake, the HTTP handler), and the Riak
# client libraries' own suites (nodiak, riak-js over HTTP; basho-riak-client
# over PB, its security tests included) against a fresh node.
test: lint test-unit test-race test-fuzz test-clients

test-unit:
	$(GO) test -count=1 $(PKGS)

test-race:
	$(GO) test -count=1 -race $(RACE_PKGS)

lint:
	@out=$$(find . -name '*.go' -not -path './node_modules/*' -print0 | xargs -0 gofmt -l); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run 'TestImportRules|TestPurePackagesDoNoIO|TestDocFiles' ./internal/lint/

fmt:
	find . -name '*.go' -not -path './node_modules/*' -print0 | xargs -0 gofmt -w

# The real-process fault-injection run (internal/jepsen, issue 16): 5
# riakgo processes, each in its own network namespace when run as root
# (loopback, kills and pauses only, otherwise), a seeded nemesis for
# DURATION, then the checkers. RUNS runs seeds SEED, SEED+1, ...; each
# run's result is appended to JEPSEN_OUT as one JSON line. make test runs
# one 30 s run; docs/reliability.md has the results of long ones.
DURATION   ?= 120s
SEED       ?= 1
RUNS       ?= 1
JEPSEN_OUT ?= bench-results/jepsen.jsonl
jepsen:
	@mkdir -p $(dir $(JEPSEN_OUT))
	$(GO) test -count=1 -timeout 0 -v -run 'TestJepsen$$' ./internal/jepsen/ \
	  -jepsen.duration=$(DURATION) -jepsen.seed=$(SEED) -jepsen.runs=$(RUNS) -jepsen.out=$(abspath $(JEPSEN_OUT))

# Go micro-benchmarks, then the basho_bench-style HTTP workload against a
# fresh node and against the bare net/http ceiling in the same run.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./vclock/ ./siblings/ ./internal/wire/ ./kv/...
	./scripts/bench.sh $(BENCH_DURATION)

# Key listing of 1,000,000 keys: peak RSS while streaming vs an idle node.
bench-listing:
	./scripts/bench-listing.sh 1000000

# Handoff throughput (1 KiB and 64 KiB objects, 256 MiB loaded per size)
# between two processes vs a plain TCP copy of the same bytes, in one run.
# HANDOFF_ARGS passes flags, e.g. make bench-handoff HANDOFF_ARGS='--bytes 32MiB'.
bench-handoff:
	./scripts/bench-handoff.sh $(HANDOFF_ARGS)

CLIENT_SUITES := clients/nodiak clients/riak-js clients/riak-nodejs

# The Riak client libraries' own mocha suites (nodiak, riak-js, and Basho's
# basho-riak-client over Protocol Buffers) against a fresh node; see
# docs/compatibility.md, "Client suites".
test-clients: $(CLIENT_SUITES:%=%/node_modules/.package-lock.json)
	./clients/run.sh

# npm ci when a suite's node_modules is missing or older than its lock file.
clients/%/node_modules/.package-lock.json: clients/%/package.json clients/%/package-lock.json
	cd clients/$* && npm ci --no-audit --no-fund

# The loaded foundation workload at 100k, 1M and 5M keys: throughput,
# latency, RSS, disk and load rate per size (docs/performance.md). Long:
# about 15 minutes plus the 5M load.
bench-scale: build
	./scripts/bench-scale.sh $(BENCH_DURATION)

# Five processes on loopback: metadata convergence after activate, and the
# foundation workload over the cluster vs a single node (docs/performance.md).
bench-cluster5: build
	./scripts/bench-cluster5.sh $(BENCH_DURATION)

# The foundation workload with TLS and authentication off, then on, against
# the same node in one run (docs/performance.md, "Security").
bench-security: build
	./scripts/bench-security.sh $(BENCH_DURATION)

bench-go:
	$(GO) test -run '^$$' -bench . ./...

# Every fuzz target for FUZZ_SMOKE seconds each (part of make test); make
# fuzz runs each for FUZZ_TIME seconds.
FUZZ_SMOKE ?= 3
FUZZ_TIME ?= 60
test-fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZ_SMOKE)

fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZ_TIME)

# Regenerates internal/pb/riakpb/*.pb.go from its .proto files (protoc from
# Debian's protobuf-compiler; protoc-gen-go at go.mod's version).
proto:
	./internal/pb/riakpb/gen.sh

clean:
	rm -rf bin
