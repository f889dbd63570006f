# riakgo — see README.md. `make run` starts a single node on the embedded
# defaults (data in ./data, HTTP on 127.0.0.1:8098); `make test` runs every test.

GO       ?= go
BIN      := bin/riakgo
PKGS     := ./...
# Packages with goroutines run under the race detector in `make test`.
RACE_PKGS := ./kv/... ./http/... ./internal/... ./cmd/...
BENCH_DURATION ?= 60s

.PHONY: all build run test test-unit test-race test-e2e lint fmt bench bench-go fuzz-smoke clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/riakgo

run: build
	./$(BIN) start

# Every test: unit and property tests, the race detector on concurrent
# packages, the real-process end-to-end tests, and lint.
test: lint test-unit test-race

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

# Go micro-benchmarks, then the basho_bench-style HTTP workload against a
# fresh node and against the bare net/http ceiling in the same run.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./vclock/ ./siblings/ ./internal/wire/ ./kv/...
	./scripts/bench.sh $(BENCH_DURATION)

bench-go:
	$(GO) test -run '^$$' -bench . ./...

fuzz-smoke:
	$(GO) test -run '^$$' -fuzz FuzzUnmarshalBinary -fuzztime 10s ./vclock/
	$(GO) test -run '^$$' -fuzz FuzzDecodeObject -fuzztime 10s ./internal/wire/

clean:
	rm -rf bin
