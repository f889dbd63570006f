package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// observer wraps a handler and checks the requests the benchmark sends.
type observer struct {
	next http.Handler

	mu            sync.Mutex
	methods       map[string]int
	gets          map[string]int // per path
	puts          map[string]int // per path
	vclockPuts    int            // PUTs carrying the bare server's vclock
	badVclockPuts int            // PUTs carrying some other vclock
	orphanPuts    int            // vclock PUTs not preceded by a matching GET
	badPaths      int
	badCT         int
}

func newObserver(next http.Handler) *observer {
	return &observer{next: next, methods: map[string]int{}, gets: map[string]int{}, puts: map[string]int{}}
}

func (o *observer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	o.mu.Lock()
	o.methods[r.Method]++
	if _, ok := objectKey(p); !ok {
		o.badPaths++
	}
	switch r.Method {
	case http.MethodGet:
		o.gets[p]++
	case http.MethodPut:
		if r.Header.Get("Content-Type") != contentType {
			o.badCT++
		}
		if vc := r.Header.Get(VclockHeader); vc != "" {
			if vc == BareVclock {
				o.vclockPuts++
			} else {
				o.badVclockPuts++
			}
			// Every update's PUT follows its own GET of the same key, so
			// there must have been more GETs than vclock PUTs so far.
			if o.gets[p] <= o.puts[p] {
				o.orphanPuts++
			}
			o.puts[p]++
		}
	}
	o.mu.Unlock()
	o.next.ServeHTTP(w, r)
}

func testConfig(url string) Config {
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.Workers = 4
	cfg.Duration = time.Second
	cfg.Interval = 250 * time.Millisecond
	cfg.Keys = 200
	cfg.ValueSize = 100
	cfg.Seed = 1
	return cfg
}

func TestRunEndToEnd(t *testing.T) {
	obs := newObserver(NewBareServer())
	srv := httptest.NewServer(obs)
	defer srv.Close()

	cfg := testConfig(srv.URL)
	cfg.Preload = 50
	cfg.CSV = filepath.Join(t.TempDir(), "bench.csv")
	if err := cfg.Mix.Set("get:5,update:1,put:1,delete:1"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(t.Context(), cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	if res.Ops <= 0 || res.Errors != 0 || res.OpsPerSec <= 0 {
		t.Fatalf("ops=%d errors=%d ops/s=%f, want ops > 0 and no errors (%v)", res.Ops, res.Errors, res.OpsPerSec, res.ErrorsByClass)
	}
	if res.Seed != 1 || res.Elapsed < cfg.Duration {
		t.Errorf("seed=%d elapsed=%v", res.Seed, res.Elapsed)
	}
	if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.P999 || res.P999 > res.Max {
		t.Errorf("latencies not ordered: p50=%v p99=%v p99.9=%v max=%v", res.P50, res.P99, res.P999, res.Max)
	}
	if len(res.PerOp) != 4 {
		t.Fatalf("PerOp has %d entries, want 4", len(res.PerOp))
	}
	var sum int64
	for _, s := range res.PerOp {
		if s.Ops == 0 {
			t.Errorf("no successful %s operations", s.Op)
		}
		sum += s.Ops
	}
	if sum != res.Ops {
		t.Errorf("per-op ops sum to %d, total is %d", sum, res.Ops)
	}

	obs.mu.Lock()
	if obs.vclockPuts == 0 {
		t.Error("no update PUT carried the vclock returned by its GET")
	}
	if obs.badVclockPuts != 0 || obs.orphanPuts != 0 || obs.badPaths != 0 || obs.badCT != 0 {
		t.Errorf("bad requests: badVclock=%d orphan=%d badPaths=%d badContentType=%d",
			obs.badVclockPuts, obs.orphanPuts, obs.badPaths, obs.badCT)
	}
	if obs.methods[http.MethodDelete] == 0 {
		t.Error("server saw no DELETE")
	}
	obs.mu.Unlock()

	// The CSV has the header and, per interval, one row per op plus total.
	data, err := os.ReadFile(cfg.CSV)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0]+"\n" != csvHeader {
		t.Fatalf("CSV header = %q", lines[0])
	}
	rows := lines[1:]
	if len(rows) < 5 || len(rows)%5 != 0 {
		t.Fatalf("CSV has %d rows, want a positive multiple of 5:\n%s", len(rows), data)
	}
	ops := map[string]int{}
	for _, row := range rows {
		f := strings.Split(row, ",")
		if len(f) != 11 {
			t.Fatalf("CSV row %q has %d fields", row, len(f))
		}
		ops[f[2]]++
	}
	for _, op := range []string{"get", "update", "put", "delete", "total"} {
		if ops[op] != len(rows)/5 {
			t.Errorf("CSV has %d %s rows, want %d", ops[op], op, len(rows)/5)
		}
	}
	for _, want := range []string{intervalHeader, "preloaded 50 keys", "summary:", "update "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestRunUpdateOnly checks the read-modify-write cycle: with every key
// preloaded, each update must GET the key and PUT it back with the vclock.
func TestRunUpdateOnly(t *testing.T) {
	obs := newObserver(NewBareServer())
	srv := httptest.NewServer(obs)
	defer srv.Close()

	cfg := testConfig(srv.URL)
	cfg.Duration = 500 * time.Millisecond
	cfg.Keys = 20
	cfg.Preload = 20
	cfg.Type = "maps"
	cfg.KeyGen = KeyGenUniform
	cfg.Mix = Mix{{OpUpdate, 1}}
	res, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Errors != 0 {
		t.Fatalf("ops=%d errors=%d %v", res.Ops, res.Errors, res.ErrorsByClass)
	}
	if s, ok := res.Op(OpUpdate); !ok || s.Ops != res.Ops {
		t.Fatalf("update stats %+v, %v", s, ok)
	}
	if _, ok := res.Op(OpGet); ok {
		t.Fatal("get reported although not in the mix")
	}

	obs.mu.Lock()
	defer obs.mu.Unlock()
	gets, puts := obs.methods[http.MethodGet], obs.methods[http.MethodPut]
	// Preload does Keys blind PUTs; the rest are update PUTs, all with
	// the vclock, each following its own GET. Operations cut short at the
	// end of the run may have done their GET only.
	if puts-cfg.Preload != obs.vclockPuts || obs.orphanPuts != 0 || obs.badVclockPuts != 0 {
		t.Errorf("PUTs=%d (preload %d) vclockPUTs=%d orphans=%d badVclock=%d",
			puts, cfg.Preload, obs.vclockPuts, obs.orphanPuts, obs.badVclockPuts)
	}
	if gets < obs.vclockPuts || gets > obs.vclockPuts+cfg.Workers {
		t.Errorf("GETs=%d, update PUTs=%d, workers=%d", gets, obs.vclockPuts, cfg.Workers)
	}
	if int64(obs.vclockPuts) < res.Ops {
		t.Errorf("%d updates reported but only %d update PUTs seen", res.Ops, obs.vclockPuts)
	}
	for p := range obs.gets {
		if !strings.HasPrefix(p, "/types/maps/buckets/bench/keys/") {
			t.Errorf("unexpected path %q", p)
		}
	}
}

func TestRunCountsHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	cfg := testConfig(srv.URL)
	cfg.Workers = 2
	cfg.Duration = 200 * time.Millisecond
	res, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 0 || res.Errors == 0 || res.ErrorsByClass["http_503"] != res.Errors {
		t.Fatalf("ops=%d errors=%d by class %v", res.Ops, res.Errors, res.ErrorsByClass)
	}
	for _, s := range res.PerOp {
		if s.Errors == 0 || s.ErrorsByClass["http_503"] != s.Errors {
			t.Errorf("%s: errors=%d %v", s.Op, s.Errors, s.ErrorsByClass)
		}
	}
}

func TestRunConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cfg := testConfig("http://" + addr)
	cfg.Workers = 1
	cfg.Duration = 100 * time.Millisecond
	res, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 0 || res.Errors == 0 || res.ErrorsByClass["conn_refused"] != res.Errors {
		t.Fatalf("ops=%d errors=%d by class %v", res.Ops, res.Errors, res.ErrorsByClass)
	}

	cfg.Preload = 5
	if _, err := Run(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "preload") {
		t.Fatalf("Run with preload against a closed port: err = %v", err)
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	bare := NewBareServer()
	var (
		mu sync.Mutex
		n  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		if n == 200 {
			cancel()
		}
		mu.Unlock()
		bare.ServeHTTP(w, r)
	}))
	defer srv.Close()

	cfg := testConfig(srv.URL)
	cfg.Duration = time.Hour
	cfg.Interval = time.Hour
	res, err := Run(ctx, cfg, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: err = %v", err)
	}
	if res == nil || res.Ops == 0 || res.Errors != 0 {
		t.Fatalf("partial result %+v", res)
	}
}

func TestRunInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 0
	if _, err := Run(t.Context(), cfg, nil); err == nil {
		t.Fatal("Run accepted an invalid config")
	}
}

func TestWriteComparison(t *testing.T) {
	measured := &Result{Seed: 3, Stats: Stats{OpsPerSec: 500, P50: time.Millisecond, P99: 4 * time.Millisecond}}
	ceiling := &Result{Seed: 3, Stats: Stats{OpsPerSec: 1000, P50: time.Millisecond / 2, P99: 2 * time.Millisecond}}
	var b bytes.Buffer
	WriteComparison(&b, "riakgo", measured, ceiling)
	for _, want := range []string{"riakgo/ceiling ops/s: 0.500", "riakgo p99 / ceiling p99: 2.000", "seed 3"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteComparison(&b, "riakgo", measured, &Result{})
	if !strings.Contains(b.String(), "ops/s: n/a") {
		t.Errorf("zero ceiling not reported as n/a:\n%s", b.String())
	}
}

// BenchmarkReporterTick measures the reporter's per-interval cost with the
// default worker count and mix.
func BenchmarkReporterTick(b *testing.B) {
	mix := DefaultConfig().Mix
	recs := make([]*recorder, 50)
	for i := range recs {
		recs[i] = newRecorder(mix)
	}
	rp := newReporter(io.Discard, nil, mix, recs, time.Now())
	for b.Loop() {
		for _, r := range recs {
			for j := range 1000 {
				r.success(OpGet, time.Duration(100+j*j)*time.Microsecond)
				r.success(OpUpdate, time.Duration(300+j*j)*time.Microsecond)
			}
		}
		rp.tick(time.Now())
	}
}

// BenchmarkOperation measures the load generator's own cost per get
// against an in-process bare server (both sides run in this process).
func BenchmarkOperation(b *testing.B) {
	srv := httptest.NewServer(NewBareServer())
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.Workers = 1
	r, err := newRunner(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.client.CloseIdleConnections()
	w := newWorker(r, 0, 1)
	w.setContext(b.Context())
	w.do(OpPut, 1)
	b.ReportAllocs()
	for b.Loop() {
		if ok, fail := w.do(OpGet, 1); !ok {
			b.Fatal(fail.name())
		}
	}
}
