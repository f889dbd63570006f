package kv_test

import (
	"slices"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
)

// Found in review. A coordinator whose storage rolled back (an unsynced write lost in a
// machine crash, the default sync_on_write=none) reissues a dot that its
// replicas already hold for a different value: kv679 by rollback.
func TestKV679RollbackGetsFreshEpoch(t *testing.T) {
	e := newEnv(t)
	props := kv.DefaultTypedProps()
	k := key("b", "k")
	coord, replica := e.svc.Vnode(20), e.svc.Vnode(21)
	o1 := e.coordPut(coord, k, "v1", nil, props)
	e.vput(replica, k, o1, props)
	e.clk.Advance(time.Second)
	o2 := e.coordPut(coord, k, "v2", o1.Clock, props)
	e.vput(replica, k, o2, props)
	t.Logf("replica holds %s", describe(o2))

	// Power loss: coord's last (unsynced) write is gone; the replica on
	// another machine kept it. The node restarts.
	if err := coord.StoreForTest(k, o1); err != nil {
		t.Fatal(err)
	}
	e.restart()
	coord, replica = e.svc.Vnode(20), e.svc.Vnode(21)

	e.clk.Advance(time.Second)
	o3 := e.coordPut(coord, k, "v3", nil, props) // blind write, acknowledged
	t.Logf("coordinator wrote %s", describe(o3))
	a2, a3 := actorOf(t, o2.Clock, coord.ID()), actorOf(t, o3.Clock, coord.ID())
	if a2 == a3 || (a2.Actor == a3.Actor && a2.Counter == a3.Counter) {
		t.Errorf("dot %s:%d reissued for a different value", a3.Actor, a3.Counter)
	}
	r := e.vput(replica, k, o3, props)
	t.Logf("replica after merge: %s", describe(r))
	if !slices.Contains(values(r), "v3") {
		t.Errorf("acknowledged write v3 silently dropped by the replica: %s", describe(r))
	}
	_ = siblings.Equal
}

// resolver=last_write_wins ignores a tombstone sibling, even the newest,
// and writes the older live value back over it.
func TestLWWResolverKeepsNewerDelete(t *testing.T) {
	e := newEnv(t)
	e.setProps("b", map[string]any{"allow_mult": true, "resolver": "last_write_wins"})
	k := key("b", "k")
	o1 := e.put(k, "v1", nil)
	e.clk.Advance(time.Second)
	e.put(k, "v2", o1.Clock) // concurrent with the delete below
	e.clk.Advance(time.Second)
	if err := e.svc.Delete(bg, k, o1.Clock, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	o, err := e.svc.Get(bg, k, kv.Options{})
	t.Logf("after the (newer) delete: %s err=%v", describe(o), err)
	e.settle()
	for i, r := range e.replicas(k) {
		t.Logf("replica %d: %s", i, describe(r))
	}
	if err == nil {
		t.Errorf("newest operation was a delete, but the read returned %s and wrote it back", describe(o))
	}
}

func TestLWWDefaultDeleteContrast(t *testing.T) {
	e := newEnv(t)
	k := key("c", "k")
	o1 := e.put(k, "v1", nil)
	e.clk.Advance(time.Second)
	e.put(k, "v2", o1.Clock)
	e.clk.Advance(time.Second)
	if err := e.svc.Delete(bg, k, o1.Clock, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	o, err := e.svc.Get(bg, k, kv.Options{})
	if err == nil {
		t.Errorf("allow_mult=false: the newer delete lost to %s", describe(o))
	}
}
