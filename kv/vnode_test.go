package kv_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// coordPut runs a coordinated write on v, stamped with the env's clock.
func (e *env) coordPut(v *kv.Vnode, k kv.Key, val string, ctx vclock.VClock, props kv.Props) *siblings.Object {
	e.t.Helper()
	s := siblings.Sibling{Value: []byte(val), Meta: siblings.Meta{VTag: "tag-" + val, LastModified: e.clk.Now().UnixMicro()}}
	o, err := v.CoordPut(k, s, ctx, props, false)
	if err != nil {
		e.t.Fatalf("CoordPut(%s, %q): %v", k, val, err)
	}
	return o
}

func (e *env) vput(v *kv.Vnode, k kv.Key, o *siblings.Object, props kv.Props) *siblings.Object {
	e.t.Helper()
	out, err := v.Put(k, o, props, false)
	if err != nil {
		e.t.Fatalf("Put(%s, %s): %v", k, describe(o), err)
	}
	return out
}

func (e *env) vget(v *kv.Vnode, k kv.Key) *siblings.Object {
	e.t.Helper()
	o, err := v.Get(k)
	if err != nil {
		e.t.Fatalf("vnode %d Get(%s): %v", v.Partition(), k, err)
	}
	return o
}

// actorOf returns the highest-epoch actor of vnode id in c.
func actorOf(t testing.TB, c vclock.VClock, id uint64) vclock.Entry {
	t.Helper()
	var best vclock.Entry
	for _, e := range c {
		if e.Actor.ID == id && (best.Counter == 0 || e.Actor.Epoch > best.Actor.Epoch) {
			best = e
		}
	}
	if best.Counter == 0 {
		t.Fatalf("clock %s has no entry of vnode %016x", c, id)
	}
	return best
}

func TestVnodeIdentities(t *testing.T) {
	e := newEnv(t)
	seen := map[uint64]int{}
	for p := range 64 {
		v := e.svc.Vnode(p)
		if v == nil || v.Partition() != storage.Partition(p) {
			t.Fatalf("Vnode(%d) = %v", p, v)
		}
		if v.ID() == 0 {
			t.Errorf("vnode %d has id 0", p)
		}
		if q, dup := seen[v.ID()]; dup {
			t.Errorf("vnodes %d and %d share id %016x", q, p, v.ID())
		}
		seen[v.ID()] = p
	}
	if e.svc.Vnode(-1) != nil || e.svc.Vnode(64) != nil {
		t.Error("Vnode out of range is not nil")
	}
}

func TestVnodeEpochs(t *testing.T) {
	e := newEnv(t)
	v := e.svc.Vnode(5)
	props := kv.DefaultTypedProps() // dvv on, so every value carries its dot
	k1, k2 := key("b", "k1"), key("b", "k2")

	o1 := e.coordPut(v, k1, "a", nil, props)
	if len(o1.Clock) != 1 || o1.Clock[0].Actor.ID != v.ID() || o1.Clock[0].Counter != 1 {
		t.Fatalf("first write: clock %s, want one event of vnode %016x", o1.Clock, v.ID())
	}
	a1 := o1.Clock[0].Actor
	if d := o1.Siblings[0].Dot; d != (vclock.Dot{Actor: a1, Counter: 1}) {
		t.Errorf("first write: dot %s, want %s@1", d, a1)
	}

	o2 := e.coordPut(v, k1, "b", o1.Clock, props)
	o3 := e.coordPut(v, k1, "c", nil, props) // blind: a sibling, same actor
	for i, o := range []*siblings.Object{o2, o3} {
		if len(o.Clock) != 1 || o.Clock[0].Actor != a1 || o.Clock[0].Counter != uint64(i+2) {
			t.Errorf("write %d: clock %s, want %s=%d (the key's actor reused)", i+2, o.Clock, a1, i+2)
		}
	}
	if got := values(o3); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("after a blind write: values %v, want [b c]", got)
	}

	o4 := e.coordPut(v, k2, "x", nil, props)
	a2 := actorOf(t, o4.Clock, v.ID()).Actor
	if a2 == a1 {
		t.Errorf("a new key reused actor %s", a1)
	}
	if a2.ID != v.ID() {
		t.Errorf("new key's actor %s is not of vnode %016x", a2, v.ID())
	}

	// A key this vnode only received by replication: its first
	// coordinated write mints a new epoch beside the other vnode's entry.
	other := e.svc.Vnode(6)
	k3 := key("b", "k3")
	o5 := e.coordPut(other, k3, "from-6", nil, props)
	e.vput(v, k3, o5, props)
	o6 := e.coordPut(v, k3, "from-5", o5.Clock, props)
	a3 := actorOf(t, o6.Clock, v.ID()).Actor
	if a3 == a1 || a3 == a2 || len(o6.Clock) != 2 || !o6.Clock.Dominates(o5.Clock) {
		t.Errorf("write to a replicated key: clock %s, want %s plus a fresh epoch of %016x", o6.Clock, o5.Clock, v.ID())
	}
}

// TestVnodeKV679 reproduces riak_kv#679: a vnode that forgets a key and
// then reissues its old actor's counters writes an event that an older
// replica's copy dominates, silently losing the new value. Per-key epochs
// make the new write concurrent with (or dominate) the old copy instead.
func TestVnodeKV679(t *testing.T) {
	for _, bucket := range []struct {
		name  string
		props kv.Props
	}{
		{"allow_mult=false", kv.DefaultProps()},
		{"allow_mult=true dvv", kv.DefaultTypedProps()},
		{"allow_mult=true no dvv", func() kv.Props { p := kv.DefaultProps(); p.AllowMult = true; return p }()},
	} {
		props := bucket.props
		t.Run(bucket.name+"/blind write after amnesia", func(t *testing.T) {
			e := newEnv(t)
			coord, replica := e.svc.Vnode(20), e.svc.Vnode(21)
			k := key("b", "k")
			var last *siblings.Object
			for i := 1; i <= 3; i++ {
				var ctx vclock.VClock
				if last != nil {
					ctx = last.Clock
				}
				last = e.coordPut(coord, k, fmt.Sprintf("v%d", i), ctx, props)
				e.vput(replica, k, last, props)
				e.clk.Advance(time.Second)
			}
			old := actorOf(t, last.Clock, coord.ID())
			if old.Counter != 3 {
				t.Fatalf("three writes: clock %s", last.Clock)
			}

			// The coordinator loses its copy; the replica keeps v3.
			if err := coord.WipeForTest(k); err != nil {
				t.Fatal(err)
			}
			if o := e.vget(coord, k); o != nil {
				t.Fatalf("wiped vnode still has %s", describe(o))
			}
			o4 := e.coordPut(coord, k, "v4", nil, props)
			now := actorOf(t, o4.Clock, coord.ID())
			if now.Actor == old.Actor {
				t.Fatalf("after amnesia the vnode reused actor %s: clock %s", old.Actor, o4.Clock)
			}
			if last.Clock.Descends(o4.Clock) {
				t.Fatalf("the new write %s is dominated by the replica's old copy %s", o4.Clock, last.Clock)
			}

			// Anti-entropy or read repair brings the replica's copy back,
			// and the coordinator's copy reaches the replica: v4 survives
			// on both.
			m := e.vput(coord, k, last, props)
			r := e.vput(replica, k, o4, props)
			for name, o := range map[string]*siblings.Object{"coordinator": m, "replica": r} {
				if !slices.Contains(values(o), "v4") {
					t.Errorf("%s: newest value lost: %s", name, describe(o))
				}
				if !props.AllowMult && !slices.Equal(values(o), []string{"v4"}) {
					t.Errorf("%s: allow_mult=false: %s, want only v4 (the latest)", name, describe(o))
				}
			}
			if !siblings.Equal(m, r) {
				t.Errorf("replicas differ after exchange: %s vs %s", describe(m), describe(r))
			}
			// Later writes reuse the new epoch.
			o5 := e.coordPut(coord, k, "v5", m.Clock, props)
			if a := actorOf(t, o5.Clock, coord.ID()); a.Actor != now.Actor || a.Counter != 2 {
				t.Errorf("next write: %s=%d, want %s=2", a.Actor, a.Counter, now.Actor)
			}
		})

		t.Run(bucket.name+"/write with a context from before the wipe", func(t *testing.T) {
			e := newEnv(t)
			coord, replica := e.svc.Vnode(20), e.svc.Vnode(21)
			k := key("b", "k")
			o1 := e.coordPut(coord, k, "v1", nil, props)
			o2 := e.coordPut(coord, k, "v2", o1.Clock, props)
			o3 := e.coordPut(coord, k, "v3", o2.Clock, props)
			e.vput(replica, k, o3, props)
			old := actorOf(t, o3.Clock, coord.ID()).Actor

			// Amnesia with an older copy surviving: the client's context
			// shows more events of this actor than the vnode has.
			if err := coord.WipeForTest(k); err != nil {
				t.Fatal(err)
			}
			e.vput(coord, k, o1, props)
			e.clk.Advance(time.Second)
			o4 := e.coordPut(coord, k, "v4", o3.Clock, props)
			if a := actorOf(t, o4.Clock, coord.ID()).Actor; a == old {
				t.Fatalf("context %s ahead of local %s, but the vnode reused %s: %s", o3.Clock, o1.Clock, old, o4.Clock)
			}
			if !o4.Clock.Dominates(o3.Clock) {
				t.Errorf("write with context %s: clock %s does not dominate it", o3.Clock, o4.Clock)
			}
			if r := e.vput(replica, k, o4, props); !slices.Equal(values(r), []string{"v4"}) {
				t.Errorf("replica after merge: %s, want only v4 (the context saw v3)", describe(r))
			}
		})
	}
}

func TestVnodeEpochsAcrossReopen(t *testing.T) {
	e := newEnv(t)
	props := kv.DefaultTypedProps()
	const p, n = 7, 200
	id := e.svc.Vnode(p).ID()
	ids := map[int]uint64{}
	for q := range 64 {
		ids[q] = e.svc.Vnode(q).ID()
	}

	used := map[vclock.Actor]string{}
	var maxEpoch uint32
	// mint writes n new keys on vnode p and returns the lowest epoch used;
	// every epoch must be fresh and past all epochs used before.
	mint := func(round string) uint32 {
		v := e.svc.Vnode(p)
		low, prevMax := uint32(0), maxEpoch
		for i := range n {
			k := key("b", fmt.Sprintf("%s-%d", round, i))
			o := e.coordPut(v, k, "x", nil, props)
			a := actorOf(t, o.Clock, id).Actor
			if prev, dup := used[a]; dup {
				t.Fatalf("%s: actor %s reused (first used for %s)", k, a, prev)
			}
			used[a] = k.String()
			if a.Epoch <= prevMax {
				t.Fatalf("%s: epoch %d, not past %d used before", k, a.Epoch, prevMax)
			}
			if low == 0 || a.Epoch < low {
				low = a.Epoch
			}
			maxEpoch = max(maxEpoch, a.Epoch)
		}
		return low
	}
	mint("before")
	if maxEpoch > kv.EpochLease {
		t.Fatalf("%d keys used epochs up to %d, beyond one lease", n, maxEpoch)
	}
	oldKey := key("b", "before-0")
	oldActor := actorOf(t, e.vget(e.svc.Vnode(p), oldKey).Clock, id).Actor

	e.restart()
	for q := range 64 {
		if got := e.svc.Vnode(q).ID(); got != ids[q] {
			t.Fatalf("vnode %d: id %016x after reopen, was %016x", q, got, ids[q])
		}
	}
	// The epochs handed out before the restart were not persisted one by
	// one: the vnode must skip the whole block it had leased.
	if low := mint("after"); low <= kv.EpochLease {
		t.Errorf("epochs after reopen start at %d, inside the block leased before (≤ %d)", low, kv.EpochLease)
	}
	// A key written before the restart gets a fresh epoch for its first
	// write in this run: the stored copy might be older than what the old
	// actor issued (a machine crash rolls back unsynced writes), so
	// continuing that actor's counter could reissue a dot. The old entry
	// stays in the clock.
	o := e.coordPut(e.svc.Vnode(p), oldKey, "y", nil, props)
	a := actorOf(t, o.Clock, id)
	if a.Actor == oldActor || a.Actor.Epoch <= kv.EpochLease || a.Counter != 1 {
		t.Errorf("rewrite of %s after reopen: %s=%d, want a fresh epoch above %d at counter 1", oldKey, a.Actor, a.Counter, kv.EpochLease)
	}
	if o.Clock.Get(oldActor) != 1 {
		t.Errorf("rewrite of %s after reopen dropped the old actor: %s", oldKey, o.Clock)
	}
	// The next write in this run reuses the fresh actor.
	o = e.coordPut(e.svc.Vnode(p), oldKey, "z", o.Clock, props)
	if b := actorOf(t, o.Clock, id); b.Actor != a.Actor || b.Counter != 2 {
		t.Errorf("second rewrite: %s=%d, want %s=2", b.Actor, b.Counter, a.Actor)
	}

	e.restart()
	mint("again")
}

// TestVnodeEpochLeaseRenewal crosses a lease block: the vnode leases a new
// block without stopping, and a reopen continues past everything handed
// out.
func TestVnodeEpochLeaseRenewal(t *testing.T) {
	e := newEnv(t)
	const p = 3
	seen := make(map[uint32]bool, kv.EpochLease+10)
	var last vclock.Actor
	for range kv.EpochLease + 10 {
		a, err := e.svc.Vnode(p).NewEpochForTest()
		if err != nil {
			t.Fatal(err)
		}
		if seen[a.Epoch] || (last.ID == a.ID && a.Epoch <= last.Epoch) {
			t.Fatalf("epoch %d repeated or not increasing (previous %d)", a.Epoch, last.Epoch)
		}
		seen[a.Epoch] = true
		last = a
	}
	e.restart()
	a, err := e.svc.Vnode(p).NewEpochForTest()
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != last.ID || a.Epoch <= last.Epoch {
		t.Fatalf("after reopen: %s, want an epoch of %016x past %d", a, last.ID, last.Epoch)
	}
	// A restart without a clean Close of the service (a crash) is no
	// different: the lease was written before any epoch of it was used.
	e.running = false
	e.eng.Close()
	e.eng.Reopen()
	e.open()
	b, _ := e.svc.Vnode(p).NewEpochForTest()
	if b.ID != a.ID || b.Epoch <= a.Epoch {
		t.Fatalf("after crash: %s, want past %s", b, a)
	}
}

func TestVnodeReap(t *testing.T) {
	props := kv.DefaultProps()
	delay := kv.DeleteMode{Delay: 3 * time.Second}
	cases := []struct {
		name string
		mode kv.DeleteMode
		// between runs after Reap; then the clock advances in steps and
		// the tombstone's presence is checked after each.
		between func(e *env, v *kv.Vnode, k kv.Key, tomb *siblings.Object)
		steps   []time.Duration
		present []bool
		live    bool // the key ends up with a live value
	}{
		{name: "keep", mode: kv.DeleteMode{Keep: true}, steps: []time.Duration{0, time.Hour}, present: []bool{true, true}},
		{name: "immediate", mode: kv.DeleteMode{Immediate: true}, steps: []time.Duration{0}, present: []bool{false}},
		{name: "zero delay is immediate", mode: kv.DeleteMode{}, steps: []time.Duration{0}, present: []bool{false}},
		{name: "3000ms", mode: delay,
			steps:   []time.Duration{0, 2999 * time.Millisecond, time.Millisecond},
			present: []bool{true, true, false}},
		{name: "3000ms, rewritten with a value in between", mode: delay,
			between: func(e *env, v *kv.Vnode, k kv.Key, tomb *siblings.Object) {
				e.clk.Advance(time.Second)
				e.coordPut(v, k, "back", tomb.Clock, props)
			},
			steps: []time.Duration{3 * time.Second}, present: []bool{true}, live: true},
		{name: "3000ms, deleted again in between", mode: delay,
			between: func(e *env, v *kv.Vnode, k kv.Key, tomb *siblings.Object) {
				e.clk.Advance(time.Second)
				d := siblings.Sibling{Value: []byte{}, Meta: siblings.Meta{Deleted: true, VTag: "del2", LastModified: e.clk.Now().UnixMicro()}}
				if _, err := v.CoordPut(k, d, tomb.Clock, props, false); err != nil {
					e.t.Fatal(err)
				}
			},
			// The first timer sees a different tombstone and leaves it.
			steps: []time.Duration{3 * time.Second}, present: []bool{true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			v := e.svc.Vnode(9)
			k := key("b", "k")
			o := e.coordPut(v, k, "v", nil, props)
			d := siblings.Sibling{Value: []byte{}, Meta: siblings.Meta{Deleted: true, VTag: "del", LastModified: e.clk.Now().UnixMicro()}}
			tomb, err := v.CoordPut(k, d, o.Clock, props, false)
			if err != nil || !tomb.IsTombstone() {
				t.Fatalf("tombstone write: %v, %s", err, describe(tomb))
			}
			v.Reap(k, tc.mode)
			if tc.between != nil {
				tc.between(e, v, k, tomb)
			}
			for i, step := range tc.steps {
				e.clk.Advance(step)
				got := e.vget(v, k)
				if (got != nil) != tc.present[i] {
					t.Fatalf("after step %d (+%v): stored %s, want present=%v", i, step, describe(got), tc.present[i])
				}
			}
			if got := e.vget(v, k); tc.live && (got == nil || got.IsTombstone()) {
				t.Errorf("the rewritten value is gone: %s", describe(got))
			}
		})
	}

	t.Run("a live value is never reaped", func(t *testing.T) {
		e := newEnv(t)
		v := e.svc.Vnode(9)
		k := key("b", "k")
		e.coordPut(v, k, "v", nil, props)
		v.Reap(k, kv.DeleteMode{Immediate: true})
		v.Reap(k, delay)
		e.clk.Advance(time.Minute)
		if got := e.vget(v, k); got == nil {
			t.Fatal("a live value was reaped")
		}
		v.Reap(key("b", "absent"), delay) // nothing to reap, no timer needed
		e.clk.Advance(time.Minute)
	})
}

func TestParseDeleteMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want kv.DeleteMode
		ok   bool
	}{
		{"keep", kv.DeleteMode{Keep: true}, true},
		{"immediate", kv.DeleteMode{Immediate: true}, true},
		{"3000", kv.DeleteMode{Delay: 3 * time.Second}, true},
		{"0", kv.DeleteMode{}, true},
		{"-1", kv.DeleteMode{}, false},
		{"3s", kv.DeleteMode{}, false},
		{"03000", kv.DeleteMode{}, false},
		{"", kv.DeleteMode{}, false},
		{"Keep", kv.DeleteMode{}, false},
	} {
		got, err := kv.ParseDeleteMode(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseDeleteMode(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
			continue
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("ParseDeleteMode(%q).String() = %q", tc.in, got.String())
		}
	}
	if got := kv.DefaultDeleteMode().String(); got != "3000" {
		t.Errorf("default delete_mode %q, want 3000", got)
	}
}
