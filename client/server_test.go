package client_test

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// testStart is the manual clock's start: the Last-Modified of every write
// made before a test advances the clock.
var testStart = time.Date(2024, time.March, 5, 14, 30, 15, 0, time.UTC)

// lockedRand is a seeded random source safe for concurrent use.
func lockedRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64()
	}
}

// node is a single riakgo node served in-process over HTTP, with a client.
type node struct {
	url string
	svc *kv.Service
	clk *clock.Manual
	c   *client.Client
}

// newNode starts a riakgo node (memstore, 64 partitions, manual clock,
// seeded randomness) behind httptest and a client for it.
func newNode(t testing.TB, opts ...client.Option) *node {
	t.Helper()
	const seed = 20240305
	t.Logf("seed %d", seed)
	url, svc, clk, stop := startNode(seed)
	t.Cleanup(stop)
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return &node{url: url, svc: svc, clk: clk, c: c}
}

// startNode starts a node and returns its URL and a function that stops
// it. It panics on failure, so that examples can use it too.
func startNode(seed uint64) (string, *kv.Service, *clock.Manual, func()) {
	rg, err := ring.New(64, "riakgo@127.0.0.1")
	if err != nil {
		panic(err)
	}
	clk := clock.NewManual(testStart)
	cfg := kv.DefaultConfig()
	cfg.Ring = rg
	cfg.Engine = memstore.New()
	cfg.Clock = clk
	cfg.Rand = lockedRand(seed)
	svc, err := kv.New(cfg)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(riakhttp.NewHandler(svc, riakhttp.Options{Rand: lockedRand(seed + 1)}))
	return srv.URL, svc, clk, func() {
		srv.Close()
		svc.Close()
	}
}

// testCtx returns a context bounded well beyond any test's needs, so that a
// hung request fails the test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// text is a text/plain Content.
func text(s string) client.Content {
	return client.Content{Value: []byte(s), ContentType: "text/plain"}
}

// mustPut stores s at loc blindly.
func (n *node) mustPut(t testing.TB, loc client.Loc, c client.Content) {
	t.Helper()
	if _, err := n.c.Put(testCtx(t), loc, c, "", nil); err != nil {
		t.Fatalf("Put %v: %v", loc, err)
	}
}

// mustGet fetches loc.
func (n *node) mustGet(t testing.TB, loc client.Loc) *client.Object {
	t.Helper()
	obj, err := n.c.Get(testCtx(t), loc, nil)
	if err != nil {
		t.Fatalf("Get %v: %v", loc, err)
	}
	return obj
}

// allowMult makes a default-type bucket keep siblings, with dotted version
// vectors.
func (n *node) allowMult(t testing.TB, bucket string) {
	t.Helper()
	if err := n.c.SetBucketProps(testCtx(t), "", bucket, map[string]any{"allow_mult": true, "dvv_enabled": true}); err != nil {
		t.Fatalf("SetBucketProps: %v", err)
	}
}

// values returns the sorted string values of siblings.
func values(sibs []client.Content) []string {
	out := make([]string, len(sibs))
	for i, s := range sibs {
		out[i] = string(s.Value)
	}
	sort.Strings(out)
	return out
}

// lineSet is a value made of sorted, distinct lines: the set the
// convergence tests grow.
func lineSet(v []byte) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(string(v), "\n") {
		if l != "" {
			m[l] = true
		}
	}
	return m
}

func renderSet(m map[string]bool) []byte {
	var ls []string
	for l := range m {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	return []byte(strings.Join(ls, "\n"))
}

// union resolves siblings by the union of their lines.
var union = client.Fold(func(a, b client.Content) (client.Content, error) {
	m := lineSet(a.Value)
	for l := range lineSet(b.Value) {
		m[l] = true
	}
	a.Value = renderSet(m)
	return a, nil
})

// addLine returns a Mutator that adds line to the set.
func addLine(line string) client.Mutator {
	return func(cur *client.Object) (client.Content, error) {
		next := text("")
		if c := cur.Content(); c != nil {
			next = *c
		}
		m := lineSet(next.Value)
		m[line] = true
		next.Value = renderSet(m)
		return next, nil
	}
}
