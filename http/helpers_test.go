package http

import (
	"bytes"
	"io"
	"math/rand/v2"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// testStart is the manual clock's start: every write made before the test
// advances the clock carries this Last-Modified.
var testStart = time.Date(2024, time.March, 5, 14, 30, 15, 0, time.UTC)

// lockedRand is a seeded random source safe for concurrent use: the
// handler and the service call it from request goroutines.
func lockedRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64()
	}
}

// newService builds a single-node kv.Service over a memstore with a manual
// clock and seeded randomness.
func newService(t testing.TB, seed uint64) (*kv.Service, *clock.Manual) {
	t.Helper()
	rg, err := ring.New(64, "riakgo@127.0.0.1")
	if err != nil {
		t.Fatalf("ring.New: %v", err)
	}
	clk := clock.NewManual(testStart)
	cfg := kv.DefaultConfig()
	cfg.Ring = rg
	cfg.Engine = memstore.New()
	cfg.Clock = clk
	cfg.Rand = lockedRand(seed)
	svc, err := kv.New(cfg)
	if err != nil {
		t.Fatalf("kv.New: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, clk
}

// env is a test server over a real service.
type env struct {
	t   *testing.T
	srv *httptest.Server
	svc *kv.Service
	clk *clock.Manual
}

// newEnv starts a handler over a fresh service; o.Rand is seeded unless
// set.
func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	const seed = 20240305
	t.Logf("seed %d", seed)
	svc, clk := newService(t, seed)
	if o.Rand == nil {
		o.Rand = lockedRand(seed + 1)
	}
	srv := httptest.NewServer(NewHandler(svc, o))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, clk: clk}
}

// with returns a copy of e that reports to t (for subtests).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// resp is a response with its body read.
type resp struct {
	*nethttp.Response
	body []byte
}

func (r *resp) Body() string { return string(r.body) }

// hdr builds a header from name/value pairs.
func hdr(kv ...string) nethttp.Header {
	h := nethttp.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// do sends a request with the given headers and body (nil for none).
func (e *env) do(method, path string, h nethttp.Header, body []byte) *resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return e.send(req)
}

func (e *env) send(req *nethttp.Request) *resp {
	e.t.Helper()
	r, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return &resp{Response: r, body: b}
}

func (e *env) get(path string, kv ...string) *resp {
	e.t.Helper()
	return e.do("GET", path, hdr(kv...), nil)
}

// put stores body with a content type and extra headers.
func (e *env) put(path, ctype, body string, kv ...string) *resp {
	e.t.Helper()
	h := hdr(kv...)
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	return e.do("PUT", path, h, []byte(body))
}

// want checks the status and, if body is not "-", the exact body.
func (r *resp) want(t *testing.T, status int, body string) *resp {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %q", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	if body != "-" && string(r.body) != body {
		t.Fatalf("%s %s: body %q, want %q", r.Request.Method, r.Request.URL.Path, r.body, body)
	}
	return r
}

// wantHeader checks one response header's exact value.
func (r *resp) wantHeader(t *testing.T, name, value string) *resp {
	t.Helper()
	if got := r.Header.Get(name); got != value {
		t.Errorf("%s %s: header %s = %q, want %q", r.Request.Method, r.Request.URL.Path, name, got, value)
	}
	return r
}

// alive checks that the node still answers /ping.
func (e *env) alive() {
	e.t.Helper()
	e.get("/ping").want(e.t, 200, "OK")
}

// setProps PUTs bucket properties and expects 204.
func (e *env) setProps(path, json string) {
	e.t.Helper()
	e.do("PUT", path, hdr("Content-Type", "application/json"), []byte(json)).want(e.t, 204, "")
}

// lines splits a text body into its lines (dropping the final newline).
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
