package http

import (
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an Observer that keeps the ops it saw.
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) Request(op string, _ int, _ time.Duration) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[len(r.ops)-1]
}

// documentedOps reads the op label values of the metrics table in
// docs/operations.md.
func documentedOps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^\\| `riakgo_request_duration_seconds` \\| histogram \\| `op` = ([a-z, ]+) \\|$").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/operations.md: no op values for riakgo_request_duration_seconds")
	}
	return strings.Split(string(m[1]), ", ")
}

// TestObserverOps: the op the handler reports for each kind of request is
// one of the op label values docs/operations.md documents, and the one it
// says.
func TestObserverOps(t *testing.T) {
	rec := &recorder{}
	svc, clk := newService(t, 3)
	srv := httptest.NewServer(NewHandler(svc, Options{Observer: rec, Rand: lockedRand(4)}))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc, clk: clk}
	e.makeType("sets", `{"datatype":"set"}`)
	e.makeType("counters", `{"datatype":"counter"}`)
	e.setProps("/buckets/c/props", `{"props":{"allow_mult":true}}`)
	documented := documentedOps(t)
	for _, c := range []struct {
		method, path, body, want string
	}{
		{"PUT", "/buckets/b/keys/k", "v", "put"},
		{"GET", "/buckets/b/keys/k", "", "get"},
		{"GET", "/riak/b/k/_,_,_", "", "get"},
		{"DELETE", "/buckets/b/keys/k", "", "delete"},
		{"GET", "/buckets/b/props", "", "props"},
		{"GET", "/types/sets/props", "", "props"},
		{"GET", "/ping", "", "ping"},
		{"GET", "/buckets/b/keys?keys=true", "", "list"},
		{"GET", "/buckets?buckets=true", "", "list"},
		{"GET", "/buckets/b/index/x_bin/y", "", "index"},
		{"POST", "/types/sets/buckets/s/datatypes/k", `{"add":"x"}`, "datatype"},
		{"GET", "/types/sets/buckets/s/datatypes/k", "", "datatype"},
		{"POST", "/buckets/c/counters/k", "1", "datatype"},
		{"GET", "/admin/bucket-types", "", "admin"},
		{"GET", "/stats", "", "other"},
		{"GET", "/nowhere/at/all", "", "other"},
	} {
		h := hdr()
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
			h.Set("Content-Type", "text/plain")
			if strings.HasPrefix(c.body, "{") {
				h.Set("Content-Type", "application/json")
			}
		}
		e.do(c.method, c.path, h, body)
		got := rec.last()
		if got != c.want {
			t.Errorf("%s %s: op %q, want %q", c.method, c.path, got, c.want)
		}
		if !slices.Contains(documented, got) {
			t.Errorf("%s %s: op %q is not documented (%q)", c.method, c.path, got, documented)
		}
	}
}
