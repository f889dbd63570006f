package kv_test

import (
	"errors"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/transfer"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
)

// The vnode side of an ownership transfer on one node: tombstones are
// kept while a transfer is planned (HoldReaps) or running, a dropped
// partition is never reopened while requests for it are forwarded, and a
// drop with a reap timer pending does not wait on it.
func TestHandoffDropAndReapHold(t *testing.T) {
	e := newEnv(t)
	k := key("b", "gone")
	e.put(k, "v", nil)
	p := e.ring.Partition(ring.KeyHash(k.Type, k.Bucket, k.Key))

	// A planned transfer holds reaps: the tombstone outlives the delay.
	e.svc.Vnodes().HoldReaps(p, true)
	if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	e.svc.WaitIdle()
	e.clk.Advance(10 * time.Second)
	e.svc.WaitIdle()
	if o, err := e.svc.Vnode(p).Get(k); err != nil || o == nil || !o.IsTombstone() {
		t.Fatalf("tombstone with reaps held: %v %v", o, err)
	}
	e.svc.Vnodes().HoldReaps(p, false)

	// Tracking, then forwarding; a reap scheduled before stays harmless.
	if err := e.svc.Vnodes().Starting(transfer.Job{Partition: p, Kind: transfer.Ownership, To: "other@127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	e.svc.Vnode(p).Reap(k, kv.DeleteMode{Delay: time.Second})
	if _, err := e.svc.Vnodes().Folded(transfer.Job{Partition: p, Kind: transfer.Ownership, To: "other@127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if to, fwd, ok := e.svc.Vnodes().Target(p); !ok || !fwd || to != "other@127.0.0.1" {
		t.Fatalf("after the fold: %s %v %v", to, fwd, ok)
	}
	done := make(chan error, 1)
	go func() { done <- e.svc.Vnodes().Drop(p) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Drop blocked")
	}
	if e.svc.Vnode(p) != nil {
		t.Fatal("the vnode is still open after the drop")
	}
	if empty, err := e.svc.PartitionEmpty(p); err != nil || !empty {
		t.Fatalf("partition not empty after the drop: %v %v", empty, err)
	}
	// A request for the dropped partition on this node (an old ring)
	// would be forwarded; it never reopens an empty vnode here.
	_, err := e.svc.Get(bg, k, kv.Options{R: quorum.Of(1)})
	if err == nil || e.svc.Vnode(p) != nil {
		t.Fatalf("get of a dropped partition: %v, vnode reopened %v", err, e.svc.Vnode(p) != nil)
	}
	var fe *kv.ForwardError
	if err := e.svc.Vnodes().Receive(p, []transfer.Item{{Key: []byte("x"), Value: []byte("y")}}); !errors.As(err, &fe) || e.svc.Vnode(p) != nil {
		t.Fatalf("a handoff batch for the dropped partition: %v, vnode reopened %v", err, e.svc.Vnode(p) != nil)
	}
	e.svc.Vnodes().Forward(p, "")
	e.put(k, "again", nil) // the grace is over: the partition opens again
	if e.svc.Vnode(p) == nil {
		t.Fatal("partition not reopened after the grace")
	}
}
