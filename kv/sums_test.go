package kv_test

import (
	"slices"
	"sync/atomic"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// countingEngine counts the value reads and the sum reads of data keys.
type countingEngine struct {
	storage.Engine
	gets, sums atomic.Int64
}

func (c *countingEngine) Get(p storage.Partition, key []byte) ([]byte, error) {
	c.gets.Add(1)
	return c.Engine.Get(p, key)
}

func (c *countingEngine) GetSum(p storage.Partition, key []byte) (uint64, int, bool, error) {
	c.sums.Add(1)
	return c.Engine.GetSum(p, key)
}

// A node holding all N replicas of a key that none of its caches holds
// reads the value of one replica, and of each other replica only its sum
// when that equals a value already read; a replica that differs is read
// whole, and its siblings are not lost.
func TestColdReplicasReadOnceWhenEqual(t *testing.T) {
	var c *countingEngine
	e := newEnv(t, func(cfg *kv.Config) {
		c = &countingEngine{Engine: cfg.Engine}
		cfg.Engine = c
	})
	e.setProps("b", map[string]any{"allow_mult": true})
	k := key("b", "k")
	if _, err := e.svc.Put(bg, k, []byte("v1"), siblings.Meta{ContentType: "text/plain"}, nil, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	cold := func() {
		// A new service on the same engine: empty object cache.
		e.closeSvc()
		e.open()
		c.gets.Store(0)
		c.sums.Store(0)
	}
	get := func() []string {
		t.Helper()
		o, err := e.svc.Get(bg, k, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return values(o)
	}

	cold()
	if got := get(); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("Get = %q, want [v1]", got)
	}
	if g, s := c.gets.Load(), c.sums.Load(); g != 1 || s != 2 {
		t.Fatalf("equal replicas: %d value reads and %d sum reads, want 1 and 2", g, s)
	}
	// The replicas served by their sum count as hits of the object cache.
	if st := e.svc.CacheStats(); st.Hits != 2 || st.Misses != 1 {
		t.Fatalf("object cache: %d hits and %d misses, want 2 and 1", st.Hits, st.Misses)
	}

	// The second replica diverges: a concurrent write it alone holds.
	vs := e.vnodes(k)
	other := vclock.VClock{{Actor: vclock.Actor{ID: 0xdead, Epoch: 1}, Counter: 1, Timestamp: 1}}
	if err := vs[1].StoreForTest(k, &siblings.Object{Clock: other, Siblings: []siblings.Sibling{sib("v2", 3)}}); err != nil {
		t.Fatal(err)
	}
	cold()
	if got := get(); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Fatalf("Get = %q, want both siblings [v1 v2]", got)
	}
	// The first replica's value; the second's sum differs, so its value;
	// the third's sum equals the first's.
	if g, s := c.gets.Load(), c.sums.Load(); g != 2 || s != 2 {
		t.Fatalf("one diverged replica: %d value reads and %d sum reads, want 2 and 2", g, s)
	}
	e.settle() // read repair
	for i, v := range e.vnodes(k) {
		o, err := v.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if got := values(o); !slices.Equal(got, []string{"v1", "v2"}) {
			t.Fatalf("replica %d after read repair = %q, want [v1 v2]", i, got)
		}
	}
}
