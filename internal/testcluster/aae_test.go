package testcluster

import (
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
)

// localCopies counts, for node i, the keys of which it should hold a
// primary replica and how many of those it holds, reading its vnodes
// directly (no client read, so no read repair).
func localCopies(c *Cluster, i int, keys []kv.Key) (want, have int) {
	nd := c.Nodes[i]
	r := nd.Svc.Ring()
	for _, k := range keys {
		for _, t := range ring.PrefList(r, ring.KeyHash(k.Type, k.Bucket, k.Key), 3, nil) {
			if t.Node != nd.ID {
				continue
			}
			want++
			if v := nd.Svc.Vnode(t.Partition); v != nil {
				if o, err := v.Get(k); err == nil && o != nil {
					have++
				}
			}
		}
	}
	return want, have
}

// A node whose data directory was wiped gets every key back from its
// replicas through anti-entropy alone: no client reads the keys, and the
// node does not repair its partitions by transfer.
func TestAAERestoresWipedNode(t *testing.T) {
	// Tombstones are kept, so that the wiped node must get them back too
	// and the replicas end equal (with a reap delay, replicas that reap at
	// different ticks differ for a while and exchanges keep repairing
	// them until the last reap).
	c := New(t, 3, Options{RingSize: 16, NoRepairOnRecover: true, Configure: func(i int, c *kv.Config) { c.DeleteMode = kv.DeleteMode{Keep: true} }})
	var keys, deleted []kv.Key
	for i := range 2000 {
		k := key("aae", fmt.Sprintf("k%04d", i))
		if err := put(t, c.Client(i%3), k, fmt.Sprint(i), kv.Options{W: quorum.ValAll}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			deleted = append(deleted, k)
		} else {
			keys = append(keys, k)
		}
	}
	for _, k := range deleted {
		if err := c.Client(0).Delete(bg, k, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if want, have := localCopies(c, 2, keys); want == 0 || have != want {
		t.Fatalf("before the wipe node 3 holds %d of %d", have, want)
	}
	c.Wipe(2)
	want, have := localCopies(c, 2, keys)
	if have != 0 {
		t.Fatalf("after the wipe node 3 still holds %d keys", have)
	}
	c.StepUntil(120, func() error {
		if _, have = localCopies(c, 2, keys); have < want {
			return fmt.Errorf("node 3 holds %d of its %d replicas", have, want)
		}
		return nil
	})
	var repaired int64
	for _, nd := range c.Nodes {
		repaired += nd.AAE.Status().KeysRepaired
	}
	if repaired == 0 {
		t.Fatal("no key was repaired by anti-entropy")
	}
	t.Logf("anti-entropy repaired %d keys; node 3 holds all %d of its replicas", repaired, want)
	for _, k := range deleted {
		for i := range c.Nodes {
			if o, err := c.Client(i).Get(bg, k, kv.Options{R: quorum.ValAll}); err == nil {
				t.Fatalf("deleted key %s is back on node %d: %v", k, i+1, values(o))
			}
		}
	}
	// Once repaired, exchanges find the replicas in sync.
	c.StepUntil(60, func() error {
		before := c.Nodes[0].AAE.Status()
		c.Step()
		c.Step()
		after := c.Nodes[0].AAE.Status()
		if after.InSync <= before.InSync || after.KeysRepaired != before.KeysRepaired {
			return fmt.Errorf("exchanges still repairing: %+v", after)
		}
		return nil
	})
}

// Trees survive a clean restart without a rebuild, are rebuilt after a
// crash, and in both cases agree with the replicas.
func TestAAETreesAfterRestart(t *testing.T) {
	c := New(t, 3, Options{RingSize: 8})
	for i := range 300 {
		if err := put(t, c.Client(0), key("t", fmt.Sprint(i)), "v", kv.Options{W: quorum.ValAll}); err != nil {
			t.Fatal(err)
		}
	}
	insync := func() error {
		for _, nd := range c.Nodes {
			if len(nd.Svc.Vnodes().Unbuilt()) > 0 {
				return fmt.Errorf("%s has unbuilt trees", nd.ID)
			}
		}
		for p := 0; p < 8; p++ {
			q := (p + 1) % 8
			a, b := c.Ring.Owner(p), c.Ring.Owner(q)
			ai, bi := nodeIndex(c, a), nodeIndex(c, b)
			for d := 0; d < 2; d++ {
				home := (p - d + 8) % 8
				x, ok1 := c.Nodes[ai].Svc.Vnodes().Tree(p, home)
				y, ok2 := c.Nodes[bi].Svc.Vnodes().Tree(q, home)
				if !ok1 || !ok2 {
					return fmt.Errorf("trees of %d/%d not built", p, q)
				}
				for s := range x {
					if x[s] != y[s] {
						return fmt.Errorf("partitions %d and %d differ for home %d", p, q, home)
					}
				}
			}
		}
		return nil
	}
	c.StepUntil(60, insync)
	// A clean stop saves the trees: after the restart nothing is rebuilt.
	// (The restarted node opens its vnodes once it has its ring, which
	// may take a tick: the trees it builds are counted, not guessed from
	// the vnodes open right after the restart.)
	c.Nodes[1].Svc.Close()
	c.Kill(1)
	c.Restart(1)
	if u := c.Nodes[1].Svc.Vnodes().Unbuilt(); len(u) != 0 {
		t.Fatalf("after a clean restart partitions %v need a rebuild", u)
	}
	c.StepUntil(60, insync)
	if n := c.Nodes[1].AAE.Status().TreesBuilt; n != 0 {
		t.Fatalf("after a clean restart %d trees were rebuilt", n)
	}
	// A crash (no clean Close) loses them: they are rebuilt from storage.
	c.Nodes[2].Store.Close()
	c.Kill(2)
	c.Restart(2)
	c.StepUntil(60, insync)
	if c.Nodes[2].AAE.Status().TreesBuilt == 0 {
		t.Fatal("after a crash no tree was rebuilt")
	}
}

func nodeIndex(c *Cluster, id ring.NodeID) int {
	for i, nd := range c.Nodes {
		if nd.ID == id {
			return i
		}
	}
	return -1
}
