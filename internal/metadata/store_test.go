package metadata

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

type testNet struct {
	t      *testing.T
	net    *memnet.Network
	clk    *clock.Manual
	stores map[ring.NodeID]*Store
	engs   map[ring.NodeID]*memstore.Store
	up     map[ring.NodeID]bool
	name   map[ring.NodeID]string
}

func newTestNet(t *testing.T, ids ...ring.NodeID) *testNet {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	tn := &testNet{t: t, clk: clk, net: memnet.New(memnet.Options{Seed: 1, Clock: clk, CallTimeout: time.Second}),
		stores: map[ring.NodeID]*Store{}, engs: map[ring.NodeID]*memstore.Store{}, up: map[ring.NodeID]bool{}, name: map[ring.NodeID]string{}}
	for _, id := range ids {
		tn.engs[id] = memstore.New()
		tn.up[id] = true
		tn.name[id] = "c1"
		tn.start(id)
	}
	return tn
}

func (tn *testNet) start(id ring.NodeID) {
	s, err := New(Config{Self: id, Engine: tn.engs[id], Clock: tn.clk, Transport: tn.net.Endpoint(id), Timeout: time.Second,
		Peers: func() []ring.NodeID {
			var out []ring.NodeID
			for p, up := range tn.up {
				if up && p != id {
					out = append(out, p)
				}
			}
			return out
		},
		Cluster: func() string { return tn.name[id] }})
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.stores[id] = s
}

// run calls fn, advancing the manual clock while it waits (calls to a
// partitioned node end at their deadline on that clock).
func (tn *testNet) run(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	var err error
	testwait.Until(tn.t, 20*time.Second, func() error {
		select {
		case err = <-done:
			return nil
		default:
			tn.clk.Advance(100 * time.Millisecond)
			return errors.New("still waiting")
		}
	})
	return err
}

func get(s *Store, key string) string {
	v, ok := s.Get("types", key)
	if !ok {
		return "<absent>"
	}
	return string(v)
}

// A Put returns once every member that is up holds the change; changes
// notify subscribers and survive a restart.
func TestPutReachesEveryPeer(t *testing.T) {
	tn := newTestNet(t, "a", "b", "c", "d", "e")
	var notified []string
	tn.stores["c"].Subscribe(func(p, k string) { notified = append(notified, p+"/"+k) })
	if err := tn.stores["a"].Put(context.Background(), "types", "counters", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	for id, s := range tn.stores {
		if got := get(s, "counters"); got != "v1" {
			t.Fatalf("%s: %s", id, got)
		}
	}
	if len(notified) != 1 || notified[0] != "types/counters" {
		t.Fatalf("subscriber saw %v", notified)
	}
	// Restart d on its storage: the entry is still there.
	tn.start("d")
	if got := get(tn.stores["d"], "counters"); got != "v1" {
		t.Fatalf("after restart: %s", got)
	}
	// Every store has the same digest.
	for id, s := range tn.stores {
		if string(s.Digest()) != string(tn.stores["a"].Digest()) {
			t.Fatalf("%s's digest differs", id)
		}
	}
}

// A member that was partitioned away does not confirm (the writer says so
// and names it), then gets the change by Sync after the heal; concurrent
// changes on both sides resolve to the same value everywhere.
func TestPartitionedMemberCatchesUpBySync(t *testing.T) {
	tn := newTestNet(t, "a", "b", "c")
	tn.net.Partition([]ring.NodeID{"a", "b"}, []ring.NodeID{"c"})
	err := tn.run(func() error { return tn.stores["a"].Put(context.Background(), "types", "t", []byte("from-a")) })
	var ue *UnconfirmedError
	if !errors.As(err, &ue) || len(ue.Missing) != 1 || ue.Missing[0] != "c" {
		t.Fatalf("put during a partition: %v", err)
	}
	if get(tn.stores["b"], "t") != "from-a" || get(tn.stores["c"], "t") != "<absent>" {
		t.Fatal("the partition did not hold")
	}
	tn.clk.Advance(time.Second)
	tn.up["a"], tn.up["b"] = false, false // c's view: alone
	if err := tn.stores["c"].Put(context.Background(), "types", "t", []byte("from-c")); err != nil {
		t.Fatal(err)
	}
	tn.up["a"], tn.up["b"] = true, true
	tn.net.Heal()
	if string(tn.stores["a"].Digest()) == string(tn.stores["c"].Digest()) {
		t.Fatal("digests agree before the sync")
	}
	if err := tn.stores["c"].Sync(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := tn.stores["b"].Sync(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	for id, s := range tn.stores {
		if got := get(s, "t"); got != "from-c" {
			t.Fatalf("%s resolves %q, want the later write from-c", id, got)
		}
		if string(s.Digest()) != string(tn.stores["a"].Digest()) {
			t.Fatalf("%s's digest differs after the sync", id)
		}
	}
}

// Stores of different clusters never merge.
func TestOtherClusterRefused(t *testing.T) {
	tn := newTestNet(t, "a", "b")
	tn.name["b"] = "c2"
	err := tn.stores["a"].Put(context.Background(), "types", "t", []byte("x"))
	if !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("push to another cluster: %v", err)
	}
	if err := tn.stores["a"].Sync(context.Background(), "b"); err == nil {
		t.Fatal("sync with another cluster succeeded")
	}
	if get(tn.stores["b"], "t") != "<absent>" {
		t.Fatal("another cluster's store took the entry")
	}
}

// Confirm says which members have seen a change.
func TestConfirm(t *testing.T) {
	tn := newTestNet(t, "a", "b", "c")
	tn.net.Isolate("c")
	_ = tn.run(func() error { return tn.stores["a"].Put(context.Background(), "types", "t", []byte("x")) })
	var have, lack []ring.NodeID
	err := tn.run(func() (err error) {
		have, lack, err = tn.stores["a"].Confirm(context.Background(), "types", "t")
		return err
	})
	if err != nil || len(have) != 2 || have[0] != "a" || len(lack) != 1 || lack[0] != "c" {
		t.Fatalf("confirm: have %v lack %v err %v", have, lack, err)
	}
	tn.net.Heal()
	if err := tn.stores["c"].Sync(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if _, lack, _ := tn.stores["a"].Confirm(context.Background(), "types", "t"); len(lack) != 0 {
		t.Fatalf("after the sync, %v still lack it", lack)
	}
}

// A member that is down is not asked and counts as lacking the entry
// (riak_core assumes an unreachable node may not hold it), so nothing is
// confirmed for the whole cluster while part of it is away.
func TestConfirmCountsDownMembers(t *testing.T) {
	tn := newTestNet(t, "a", "b", "c")
	a := tn.stores["a"]
	a.cfg.Members = func() []ring.NodeID { return []ring.NodeID{"b", "c", "a"} }
	if err := a.Put(context.Background(), "types", "t", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, lack, err := a.Confirm(context.Background(), "types", "t"); err != nil || len(lack) != 0 {
		t.Fatalf("all up: lack %v, err %v", lack, err)
	}
	tn.up["c"] = false // a's view: c is down; c itself holds the entry
	have, lack, err := a.Confirm(context.Background(), "types", "t")
	if err != nil || len(have) != 2 || len(lack) != 1 || lack[0] != "c" {
		t.Fatalf("c down: have %v lack %v err %v, want c lacking", have, lack, err)
	}
}

// With a merger set for a prefix, concurrent changes made on both sides
// of a partition read as the merger's combination on every node (Get and
// List), while other prefixes keep the latest write.
func TestMergerCombinesConcurrentChanges(t *testing.T) {
	tn := newTestNet(t, "a", "b", "c")
	union := func(_ string, vs [][]byte) []byte { // the sorted set of the bytes seen
		seen := [256]bool{}
		for _, v := range vs {
			for _, c := range v {
				seen[c] = true
			}
		}
		var out []byte
		for c, ok := range seen {
			if ok {
				out = append(out, byte(c))
			}
		}
		return out
	}
	for _, s := range tn.stores {
		s.SetMerger("props", union)
	}
	tn.net.Partition([]ring.NodeID{"a", "b"}, []ring.NodeID{"c"})
	tn.up["c"] = false
	for _, p := range []string{"props", "types"} {
		if err := tn.stores["a"].Put(context.Background(), p, "k", []byte("ab")); err != nil {
			t.Fatal(err)
		}
	}
	tn.clk.Advance(time.Second)
	tn.up["a"], tn.up["b"], tn.up["c"] = false, false, true
	for _, p := range []string{"props", "types"} {
		if err := tn.stores["c"].Put(context.Background(), p, "k", []byte("cd")); err != nil {
			t.Fatal(err)
		}
	}
	tn.up["a"], tn.up["b"] = true, true
	tn.net.Heal()
	for _, id := range []ring.NodeID{"c", "b"} {
		if err := tn.stores[id].Sync(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	for id, s := range tn.stores {
		if v, _ := s.Get("props", "k"); string(v) != "abcd" {
			t.Fatalf("%s: props/k = %q, want the merge abcd", id, v)
		}
		if l := s.List("props"); len(l) != 1 || string(l[0].Value) != "abcd" {
			t.Fatalf("%s: List = %+v", id, l)
		}
		if v, _ := s.Get("types", "k"); string(v) != "cd" {
			t.Fatalf("%s: types/k = %q, want the latest write cd", id, v)
		}
	}
}
