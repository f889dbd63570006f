package http

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// TestCoverageUnavailable: a listing or 2i query that no set of up vnodes
// can answer completely is a 503 naming Riak's
// insufficient_vnodes_available, streamed or not, never a partial 200.
func TestCoverageUnavailable(t *testing.T) {
	// Partitions 0-7 belong to a node that is down: with n_val 3, home
	// partitions 0-5 have no up replica.
	self, other := ring.NodeID("riakgo@127.0.0.1"), ring.NodeID("other@127.0.0.1")
	owners := make([]ring.NodeID, 64)
	for p := range owners {
		owners[p] = self
		if p < 8 {
			owners[p] = other
		}
	}
	rg, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kv.DefaultConfig()
	cfg.Node, cfg.Ring, cfg.Engine = self, rg, memstore.New()
	cfg.Clock = clock.NewManual(testStart)
	cfg.Rand = lockedRand(7)
	cfg.Up = func(id ring.NodeID) bool { return id == self }
	svc, err := kv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := httptest.NewServer(NewHandler(svc, Options{Rand: lockedRand(8)}))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc}

	const want = "insufficient_vnodes_available: home partitions [0-5] have no primary vnode on an up node (n_val 3)\n"
	for _, path := range []string{
		"/buckets/b/keys?keys=true",
		"/buckets/b/keys?keys=stream",
		"/types/default/buckets/b/keys?keys=true",
		"/riak/b?keys=true",
		"/buckets?buckets=true",
		"/buckets?buckets=stream",
		"/buckets/b/index/f_bin/x",
		"/buckets/b/index/f_int/1/5?max_results=10",
		"/buckets/b/index/$bucket/_",
		"/buckets/b/index/$key/a/z?stream=true",
		"/buckets/b/index/f_bin/a/z?return_terms=true&term_regex=x",
	} {
		t.Run(path, func(t *testing.T) {
			r := e.with(t).get(path)
			r.want(t, 503, want)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// Objects whose preference list has an up primary still work.
	e.put("/buckets/b/keys/k", "text/plain", "v").want(t, 204, "")
}
