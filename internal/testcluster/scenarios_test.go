package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

var bg = context.Background()

func key(b, k string) kv.Key { return kv.Key{Type: kv.DefaultType, Bucket: b, Key: k} }

func put(t *testing.T, s *kv.Service, k kv.Key, v string, o kv.Options) error {
	t.Helper()
	_, err := s.Put(bg, k, []byte(v), siblings.Meta{ContentType: "text/plain"}, nil, o)
	return err
}

func values(o *siblings.Object) []string {
	var out []string
	for _, s := range o.Siblings {
		if !s.Meta.Deleted {
			out = append(out, string(s.Value))
		}
	}
	sort.Strings(out)
	return out
}

// A write through one node is readable through every other, and each of
// the N=3 replicas of the key is on a different node.
func TestWriteThroughOneReadThroughAnother(t *testing.T) {
	c := New(t, 3, Options{})
	k := key("b", "k")
	if err := put(t, c.Client(0), k, "v1", kv.Options{}); err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		o, err := c.Client(i).Get(bg, k, kv.Options{R: quorum.ValAll})
		if err != nil || len(o.Siblings) != 1 || string(o.Siblings[0].Value) != "v1" {
			t.Fatalf("read through node %d: %v %v", i+1, o, err)
		}
	}
	pl := ring.PrefList(c.Ring, ring.KeyHash(k.Type, k.Bucket, k.Key), 3, nil)
	nodes := map[ring.NodeID]bool{}
	for _, tg := range pl {
		nodes[tg.Node] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("preference list %v is not on 3 nodes", pl)
	}
	// The vclock from one node resolves through another: no sibling.
	o, _ := c.Client(2).Get(bg, k, kv.Options{})
	if _, err := c.Client(1).Put(bg, k, []byte("v2"), siblings.Meta{ContentType: "text/plain"}, o.Clock, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	if o, _ := c.Client(0).Get(bg, k, kv.Options{}); len(o.Siblings) != 1 || string(o.Siblings[0].Value) != "v2" {
		t.Fatalf("after an update through node 2: %v", values(o))
	}
}

// With a node down, writes at W=2 succeed (fallbacks stand in for its
// partitions) and every acknowledged write reads at R=2; PW=3 fails with
// Riak's PW-value unsatisfied while it is down and works after it returns.
func TestSloppyQuorumWithANodeDown(t *testing.T) {
	c := New(t, 3, Options{})
	c.Kill(2)
	var acked []kv.Key
	for i := 0; i < 60; i++ {
		k := key("b", fmt.Sprint("k", i))
		if err := put(t, c.Client(i%2), k, fmt.Sprint("v", i), kv.Options{W: quorum.Of(2)}); err != nil {
			t.Fatalf("write %d with node3 down: %v", i, err)
		}
		acked = append(acked, k)
	}
	for i, k := range acked {
		o, err := c.Client((i+1)%2).Get(bg, k, kv.Options{R: quorum.Of(2)})
		if err != nil || string(o.Siblings[0].Value) != fmt.Sprint("v", i) {
			t.Fatalf("read %s at R=2: %v %v", k, o, err)
		}
	}
	// Keys with a primary on the dead node cannot get PW=3.
	var pwFails int
	for i := 0; i < 20; i++ {
		k := key("pw", fmt.Sprint("k", i))
		err := put(t, c.Client(0), k, "x", kv.Options{PW: quorum.Of(3)})
		var qe *quorum.Error
		if errors.As(err, &qe) && qe.Kind == quorum.Unsatisfied && qe.Param == "pw" {
			if qe.Error() != fmt.Sprintf("PW-value unsatisfied: %d/3", qe.Got) {
				t.Errorf("text %q", qe.Error())
			}
			pwFails++
		} else if err != nil {
			t.Fatalf("PW=3 write failed otherwise: %v", err)
		}
	}
	if pwFails == 0 {
		t.Fatal("no PW=3 write failed with a node down")
	}
	c.Restart(2)
	if err := put(t, c.Client(0), key("pw", "k0"), "y", kv.Options{PW: quorum.Of(3)}); err != nil {
		t.Fatalf("PW=3 after restart: %v", err)
	}
}

// Concurrent writes on both sides of a partition on an allow_mult bucket
// end, after heal and a read, as siblings holding every acknowledged
// write; PR/PW on the minority side fail with Riak's errors.
func TestPartitionKeepsEveryWriteAsSiblings(t *testing.T) {
	c := New(t, 3, Options{})
	props := map[string]json.RawMessage{"allow_mult": json.RawMessage("true"), "dvv_enabled": json.RawMessage("true")}
	for i := range c.Nodes {
		if err := c.Client(i).SetBucketProps(kv.DefaultType, "cart", props); err != nil {
			t.Fatal(err)
		}
	}
	k := key("cart", "k")
	c.Partition([]int{0, 1}, []int{2})
	if err := put(t, c.Client(0), k, "majority", kv.Options{W: quorum.Of(2)}); err != nil {
		t.Fatalf("majority write: %v", err)
	}
	if err := put(t, c.Client(2), k, "minority", kv.Options{W: quorum.Of(2)}); err != nil {
		t.Fatalf("minority write (sloppy quorum on fallbacks): %v", err)
	}
	var qe *quorum.Error
	if err := put(t, c.Client(2), k, "strict", kv.Options{PW: quorum.Of(2)}); !errors.As(err, &qe) || qe.Param != "pw" {
		t.Fatalf("minority PW=2: %v", err)
	}
	if _, err := c.Client(2).Get(bg, k, kv.Options{PR: quorum.Of(2)}); !errors.As(err, &qe) || qe.Param != "pr" {
		t.Fatalf("minority PR=2: %v", err)
	}
	c.Heal()
	// The minority's write sits on fallback vnodes of node 3 until hinted
	// handoff returns it to the primaries.
	c.Settle(10)
	o, err := c.Client(0).Get(bg, k, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := values(o); len(got) != 2 || got[0] != "majority" || got[1] != "minority" {
		t.Fatalf("after heal and handoff: %v, want both sides' writes as siblings", got)
	}
	// The fallbacks hold nothing any more.
	c.checkFallbacksEmpty(t)
}

// A node that the membership still believes up but that no longer answers
// (a partition not yet detected): a request asking for all replicas ends at
// its own timeout with Riak's timeout error, not after the service default.
func TestRequestTimeoutWithSilentPeer(t *testing.T) {
	c := New(t, 3, Options{Timeout: time.Minute})
	k := key("b", "k")
	if err := put(t, c.Client(0), k, "v", kv.Options{}); err != nil {
		t.Fatal(err)
	}
	// Let the write's replication finish first, so that the only calls
	// in flight below are the read's.
	idle, cancelIdle := context.WithTimeout(bg, 10*time.Second)
	defer cancelIdle()
	if err := c.Net.Wait(idle, func(s memnet.Stats) bool { return s.Pending == 0 && s.Busy == 0 }); err != nil {
		t.Fatalf("network not idle after the write: %v", err)
	}
	c.Net.Partition([]ring.NodeID{c.Nodes[0].ID, c.Nodes[1].ID}, []ring.NodeID{c.Nodes[2].ID}) // up views unchanged
	type result struct {
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, err := c.Client(0).Get(bg, k, kv.Options{R: quorum.ValAll, Timeout: 200 * time.Millisecond})
		done <- result{err}
	}()
	// The request waits for the silent replica until the clock passes its
	// own timeout (not the one-minute default): move the clock in small
	// steps until it answers, and check when that was.
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	t0 := c.Clock.Now()
	var err error
	for answered := false; !answered; {
		select {
		case r := <-done:
			err, answered = r.err, true
		case <-ctx.Done():
			t.Fatalf("no answer by %v on the cluster clock", c.Clock.Now().Sub(t0))
		case <-time.After(time.Millisecond): // polling a condition
			c.Clock.Advance(20 * time.Millisecond)
		}
	}
	if waited := c.Clock.Now().Sub(t0); waited < 200*time.Millisecond || waited > 10*time.Second {
		t.Errorf("answered after %v on the cluster clock, want just past its 200ms timeout", waited)
	}
	var qe *quorum.Error
	if !errors.As(err, &qe) || qe.Kind != quorum.Timeout {
		t.Fatalf("R=all with a silent replica: %v, want a timeout", err)
	}
	if qe.Error() != "request timed out" {
		t.Errorf("text %q", qe.Error())
	}
	// R=2 still answers from the two reachable replicas.
	if _, err := c.Client(0).Get(bg, k, kv.Options{R: quorum.Of(2), Timeout: 200 * time.Millisecond}); err != nil {
		t.Fatalf("R=2: %v", err)
	}
}

// Listing keys and buckets through any node covers every node's
// partitions, each key once; with one owner down the coverage plan goes
// around it (n_val 3), and where the up nodes hold no replica of some
// partition the listing fails rather than answer incomplete.
func TestListingCoversTheCluster(t *testing.T) {
	c := New(t, 3, Options{})
	want := map[string]bool{}
	for i := 0; i < 120; i++ {
		k := fmt.Sprint("k", i)
		if err := put(t, c.Client(i%3), key("lst", k), "v", kv.Options{}); err != nil {
			t.Fatal(err)
		}
		want[k] = true
	}
	if err := put(t, c.Client(0), key("other", "x"), "v", kv.Options{}); err != nil {
		t.Fatal(err)
	}
	// Writes answer at W=2; the third replica's copy may still be on its
	// way. Listing is eventual like Riak's: wait for replication to land.
	idle, cancelIdle := context.WithTimeout(bg, 10*time.Second)
	defer cancelIdle()
	for i := range c.Nodes {
		c.Client(i).WaitIdle()
	}
	if err := c.Net.Wait(idle, func(s memnet.Stats) bool { return s.Pending == 0 && s.Busy == 0 }); err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		got := map[string]int{}
		err := c.Client(i).ListKeys(bg, kv.DefaultType, "lst", func(keys []string) error {
			for _, k := range keys {
				got[k]++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("list through node %d: %v", i+1, err)
		}
		if len(got) != len(want) {
			t.Fatalf("list through node %d: %d keys, want %d", i+1, len(got), len(want))
		}
		for k, n := range got {
			if !want[k] || n != 1 {
				t.Fatalf("list through node %d: key %q seen %d times", i+1, k, n)
			}
		}
		var buckets []string
		if err := c.Client(i).ListBuckets(bg, kv.DefaultType, func(b []string) error { buckets = append(buckets, b...); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(buckets) != 2 || buckets[0] != "lst" || buckets[1] != "other" {
			t.Fatalf("buckets through node %d: %v", i+1, buckets)
		}
	}
	// Down nodes: the listing is complete while the up nodes hold a
	// replica of every partition, and fails otherwise (with three nodes
	// that depends on the claimed ring).
	for _, down := range []int{2, 0} {
		c.Kill(down)
		up := map[ring.NodeID]bool{}
		for _, nd := range c.live() {
			up[nd.ID] = true
		}
		_, planErr := ring.Coverage(c.Ring, 3, func(id ring.NodeID) bool { return up[id] }, 0)
		n := 0
		err := c.Client(1).ListKeys(bg, kv.DefaultType, "lst", func(keys []string) error { n += len(keys); return nil })
		switch {
		case planErr == nil && (err != nil || n != len(want)):
			t.Fatalf("listing with node %d down: %d keys, %v; want all %d", down+1, n, err, len(want))
		case planErr != nil && (!errors.Is(err, kv.ErrInsufficientVnodes) || n > 0):
			t.Fatalf("listing with node %d down and a partition without a replica up: %d keys, %v; want ErrInsufficientVnodes", down+1, n, err)
		}
	}
}

// checkFallbacksEmpty fails if any live node stores data in a partition it
// does not own (a fallback that did not hand everything back).
func (c *Cluster) checkFallbacksEmpty(t *testing.T) {
	t.Helper()
	for i, nd := range c.Nodes {
		if !c.isAlive(nd) {
			continue
		}
		r := nd.Svc.Ring()
		for p := 0; p < r.Size(); p++ {
			if r.Owner(p) == nd.ID {
				continue
			}
			if empty, err := nd.Svc.PartitionEmpty(p); err != nil || !empty {
				t.Errorf("node %d holds data in partition %d, owned by %s (err %v)", i+1, p, r.Owner(p), err)
			}
		}
	}
}
