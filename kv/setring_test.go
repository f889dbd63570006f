package kv_test

import (
	"errors"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
)

// TestSetRing: a new ring reroutes preference lists at once, the size is
// fixed, and vnodes of partitions owned again open on demand.
func TestSetRing(t *testing.T) {
	e := newEnv(t)
	k := key("b", "k")
	for p := 0; p < 64; p++ {
		if empty, err := e.svc.PartitionEmpty(p); err != nil || !empty {
			t.Fatalf("fresh partition %d: empty %v, %v", p, empty, err)
		}
	}
	e.put(k, "v", nil)
	prim := e.ring.Partition(ring.KeyHash(k.Type, k.Bucket, k.Key))
	if empty, err := e.svc.PartitionEmpty(prim); err != nil || empty {
		t.Fatalf("partition %d after a put: empty %v, %v", prim, empty, err)
	}

	small, _ := ring.New(32, node)
	if err := e.svc.SetRing(small); !errors.Is(err, kv.ErrRingSize) {
		t.Fatalf("SetRing of another size: %v", err)
	}
	if err := e.svc.SetRing(nil); !errors.Is(err, kv.ErrRingSize) {
		t.Fatalf("SetRing(nil): %v", err)
	}

	// Another node owns every other partition.
	owners := e.ring.Owners()
	for p := range owners {
		if p%2 == 1 {
			owners[p] = "other@127.0.0.1"
		}
	}
	half, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetRing(half); err != nil {
		t.Fatal(err)
	}
	if e.svc.Ring() != half {
		t.Fatal("Ring() does not return the new ring")
	}
	pl, err := e.svc.Preflist(k)
	if err != nil {
		t.Fatal(err)
	}
	for i, en := range pl {
		want := ring.NodeID(node)
		p := (prim + i) % 64
		if p%2 == 1 {
			want = "other@127.0.0.1"
		}
		if en.Node != want || en.Partition.Cmp(half.Index(p)) != 0 {
			t.Fatalf("preflist[%d] = %+v, want partition %d on %s", i, en, p, want)
		}
	}

	// Back to owning everything: reads work through the same vnodes.
	if err := e.svc.SetRing(e.ring); err != nil {
		t.Fatal(err)
	}
	if got := values(e.get(k)); len(got) != 1 || got[0] != "v" {
		t.Fatalf("get after SetRing: %v", got)
	}
}
