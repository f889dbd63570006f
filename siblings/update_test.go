package siblings_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// traceStep is one write of the reference trace (crdt-and-siblings.md §1.4
// and §1.6): a value written at vnode A with the context returned by an
// earlier step (0 = no context).
type traceStep struct {
	writer  string
	value   string
	ctxFrom int
}

var trace = []traceStep{
	{"X", "v1", 0},
	{"Y", "v2", 0},
	{"X", "v3", 1},
	{"Y", "v4", 2},
	{"Y", "v5", 4}, // Y reads step 4's state and resolves v3+v4 into v5
}

// runTrace plays trace at vnode A and returns the object after each step
// (index 0 is the empty start).
func runTrace(opt siblings.UpdateOptions) []*siblings.Object {
	states := []*siblings.Object{nil}
	for i, st := range trace {
		var ctx vclock.VClock
		if st.ctxFrom > 0 {
			ctx = states[st.ctxFrom].Clock
		}
		put := val(st.value)
		put.Dot = dot(actC, 99) // the put's own dot must be ignored
		states = append(states, siblings.Update(states[i], put, ctx, actA, t0+int64(i), opt))
	}
	return states
}

// TestWorkedExampleDVV is reference §1.6 step by step.
func TestWorkedExampleDVV(t *testing.T) {
	type sib struct {
		value string
		dot   uint64
	}
	want := []struct {
		clock uint64
		sibs  []sib
	}{
		{1, []sib{{"v1", 1}}},
		{2, []sib{{"v1", 1}, {"v2", 2}}},
		{3, []sib{{"v2", 2}, {"v3", 3}}},
		{4, []sib{{"v3", 3}, {"v4", 4}}},
		{5, []sib{{"v5", 5}}},
	}
	states := runTrace(dvvOn)
	for i, w := range want {
		st := trace[i]
		t.Run(fmt.Sprintf("step%d_%s_puts_%s", i+1, st.writer, st.value), func(t *testing.T) {
			o := states[i+1]
			checkInvariants(t, o)
			if !o.Clock.Equal(clk(actA, int(w.clock))) {
				t.Fatalf("clock %v, want [A:%d]", o.Clock, w.clock)
			}
			if len(o.Siblings) != len(w.sibs) {
				t.Fatalf("siblings %s, want %v", describe(o), w.sibs)
			}
			for j, ws := range w.sibs {
				s := o.Siblings[j]
				if string(s.Value) != ws.value || s.Dot != dot(actA, ws.dot) {
					t.Fatalf("sibling %d = %s@%v, want %s@A%d (object %s)", j, s.Value, s.Dot, ws.value, ws.dot, describe(o))
				}
				if s.Meta.VTag != "tag-"+ws.value || s.Meta.ContentType != "text/plain" {
					t.Fatalf("sibling %d lost its metadata: %+v", j, s.Meta)
				}
			}
			// The step before is untouched.
			if i > 0 && len(states[i].Siblings) != len(want[i-1].sibs) {
				t.Fatalf("Update modified the stored object: %s", describe(states[i]))
			}
		})
	}

	t.Run("replication", func(t *testing.T) {
		// Vnode B holds step 2's object and receives step 3's.
		b, a := deepCopy(states[2]), states[3]
		for _, got := range []*siblings.Object{siblings.Merge(b, a), siblings.Merge(a, b)} {
			checkInvariants(t, got)
			if !identical(got, a) {
				t.Fatalf("B merged to %s, want exactly A's %s", describe(got), describe(a))
			}
		}
		// And B holding step 3's object while A moves on to step 4.
		if got := siblings.Merge(deepCopy(states[3]), states[4]); !siblings.Equal(got, states[4]) {
			t.Fatalf("B merged to %s, want %s", describe(got), describe(states[4]))
		}
	})
}

// TestWorkedExampleNoDVV is reference §1.4: the same trace with vnode
// version vectors only explodes the siblings.
func TestWorkedExampleNoDVV(t *testing.T) {
	want := [][]string{
		{"v1"},
		{"v1", "v2"},
		{"v1", "v2", "v3"},
		{"v1", "v2", "v3", "v4"},
		{"v5"}, // a write that read everything still collapses them
	}
	states := runTrace(dvvOff)
	for i, w := range want {
		o := states[i+1]
		if !o.Clock.Equal(clk(actA, i+1)) {
			t.Errorf("step %d: clock %v, want [A:%d]", i+1, o.Clock, i+1)
		}
		if got := values(o); !slices.Equal(got, w) {
			t.Errorf("step %d: siblings %v, want %v", i+1, got, w)
		}
		for _, s := range o.Siblings {
			if !s.Dot.IsZero() {
				t.Errorf("step %d: sibling %s has dot %v without DVV", i+1, s.Value, s.Dot)
			}
		}
	}
}

// TestAlternatingWriters is the Dotted-Version-Vectors README experiment:
// two clients alternate, each writing with the clock its own previous PUT
// returned. Without DVV every write adds a sibling; with DVV there are never
// more than two.
func TestAlternatingWriters(t *testing.T) {
	const writes = 101
	for _, tc := range []struct {
		opt  siblings.UpdateOptions
		want int
	}{{dvvOff, writes}, {dvvOn, 2}} {
		var o *siblings.Object
		var ctx [2]vclock.VClock
		for i := 0; i < writes; i++ {
			w := i % 2
			o = siblings.Update(o, val(fmt.Sprint("w", i)), ctx[w], actA, t0+int64(i), tc.opt)
			ctx[w] = o.Clock // return_body
		}
		if len(o.Siblings) != tc.want {
			t.Errorf("DVV=%v: %d siblings after %d alternating writes, want %d", tc.opt.DVV, len(o.Siblings), writes, tc.want)
		}
	}
}

// checkUpdate asserts the coordinating-put contract for one Update call.
func checkUpdate(t testing.TB, local *siblings.Object, put siblings.Sibling, ctx vclock.VClock, actor vclock.Actor, now int64, opt siblings.UpdateOptions) *siblings.Object {
	t.Helper()
	before := deepCopy(local)
	ctxBefore := ctx.Clone()
	got := siblings.Update(local, put, ctx, actor, now, opt)
	if !identical(local, before) || !slices.Equal(ctx, ctxBefore) {
		t.Fatal("Update modified its arguments")
	}
	var localClock vclock.VClock
	var old []siblings.Sibling
	if local != nil {
		localClock, old = local.Clock, local.Siblings
	}
	if !got.Clock.Descends(ctx) || !got.Clock.Descends(localClock) {
		t.Fatalf("result clock %v does not descend ctx %v and stored %v", got.Clock, ctx, localClock)
	}
	if !got.Clock.Dominates(localClock) || !got.Clock.Dominates(ctx) {
		t.Fatalf("result clock %v records no new event", got.Clock)
	}
	newDot := vclock.Dot{Actor: actor, Counter: got.Clock.Get(actor)}
	if localClock.Covers(newDot) || ctx.Covers(newDot) {
		t.Fatalf("new event %v was already seen by stored %v or ctx %v (dot reissued)", newDot, localClock, ctx)
	}
	if want, _ := vclock.Merge(ctx, localClock).Increment(actor, now); !got.Clock.Equal(want) {
		t.Fatalf("result clock %v, want join+1 = %v", got.Clock, want)
	}
	// The new value is there, with the new dot under DVV.
	var mine *siblings.Sibling
	for i := range got.Siblings {
		if got.Siblings[i].Meta.VTag == put.Meta.VTag {
			mine = &got.Siblings[i]
		}
	}
	if mine == nil || string(mine.Value) != string(put.Value) {
		t.Fatalf("new value missing from %s", describe(got))
	}
	if opt.DVV && mine.Dot != newDot {
		t.Fatalf("new value has dot %v, want %v", mine.Dot, newDot)
	}
	// A write drops exactly the siblings its context saw (DVV), or nothing
	// unless its context saw everything (no DVV).
	replacesAll := ctx.Descends(localClock)
	for _, s := range old {
		seen := replacesAll || (opt.DVV && !s.Dot.IsZero() && ctx.Covers(s.Dot))
		present := false
		for _, g := range got.Siblings {
			if g.Dot == s.Dot && g.Meta.VTag == s.Meta.VTag && string(g.Value) == string(s.Value) {
				present = true
			}
		}
		if seen && present {
			t.Fatalf("sibling %s@%v seen by ctx %v survived: %s", s.Value, s.Dot, ctx, describe(got))
		}
		if !seen && !present {
			t.Fatalf("sibling %s@%v not seen by ctx %v was dropped: %s", s.Value, s.Dot, ctx, describe(got))
		}
	}
	if n := len(got.Siblings); n > len(old)+1 {
		t.Fatalf("%d siblings from %d stored + 1 new", n, len(old))
	}
	return got
}

func TestUpdateDropsExactlyWhatContextSaw(t *testing.T) {
	for _, opt := range []siblings.UpdateOptions{dvvOn, dvvOff} {
		t.Run(fmt.Sprintf("DVV=%v", opt.DVV), func(t *testing.T) {
			r := newRand(t)
			for run := 0; run < 200; run++ {
				h := newHistory(r, 3, opt)
				for i := 0; i < 40; i++ {
					h.step(t, checkUpdate)
				}
			}
		})
	}
}

func TestBlindWritesDropNothing(t *testing.T) {
	for _, opt := range []siblings.UpdateOptions{dvvOn, dvvOff} {
		var o *siblings.Object
		for i := 0; i < 30; i++ {
			o = checkUpdate(t, o, val(fmt.Sprint("b", i)), nil, []vclock.Actor{actA, actB}[i%2], t0, opt)
			if len(o.Siblings) != i+1 {
				t.Fatalf("DVV=%v: %d siblings after %d blind writes", opt.DVV, len(o.Siblings), i+1)
			}
		}
		// A blind write to a tombstone keeps the tombstone as a sibling.
		del := val("gone")
		del.Meta.Deleted = true
		ts := siblings.Update(nil, del, nil, actA, t0, opt)
		o = checkUpdate(t, ts, val("back"), nil, actA, t0, opt)
		if !slices.Equal(values(o), []string{"back", "gone"}) {
			t.Fatalf("blind write over tombstone: %s", describe(o))
		}
	}
}

func TestUpdateFirstWrite(t *testing.T) {
	for _, local := range []*siblings.Object{nil, {}} {
		got := siblings.Update(local, val("v"), nil, actB, t0, dvvOn)
		if !got.Clock.Equal(clk(actB, 1)) || len(got.Siblings) != 1 || got.Siblings[0].Dot != dot(actB, 1) {
			t.Fatalf("first write = %s", describe(got))
		}
		if got.Clock[0].Timestamp != t0 {
			t.Fatalf("clock not stamped with now: %+v", got.Clock)
		}
	}
	// A first write with a context (e.g. a key recreated after its object
	// was reaped) keeps the context's history.
	got := siblings.Update(nil, val("v"), clk(actA, 4, actB, 2), actB, t0, dvvOn)
	if !got.Clock.Equal(clk(actA, 4, actB, 3)) || got.Siblings[0].Dot != dot(actB, 3) {
		t.Fatalf("first write with context = %s", describe(got))
	}
}

// A stored object that has a clock but no siblings still records the events
// it has seen: Update must not reissue one of them as the new dot.
func TestUpdateClockWithoutSiblings(t *testing.T) {
	local := &siblings.Object{Clock: clk(actA, 3)}
	for _, opt := range []siblings.UpdateOptions{dvvOn, dvvOff} {
		got := checkUpdate(t, local, val("v"), nil, actA, t0, opt)
		if !got.Clock.Equal(clk(actA, 4)) {
			t.Fatalf("DVV=%v: clock %v, want [A:4]", opt.DVV, got.Clock)
		}
	}
}

func TestLastWriteWins(t *testing.T) {
	states := runTrace(dvvOff)
	local := states[4] // four siblings
	lww := siblings.UpdateOptions{LastWriteWins: true}
	for _, ctx := range []vclock.VClock{nil, clk(actA, 1), clk(actA, 4), clk(actA, 9, actB, 1)} {
		put := val("last")
		got := siblings.Update(local, put, ctx, actB, t0+100, lww)
		if len(got.Siblings) != 1 || string(got.Siblings[0].Value) != "last" || got.Siblings[0].Meta.VTag != put.Meta.VTag {
			t.Fatalf("ctx %v: LWW left %s", ctx, describe(got))
		}
		if !got.Siblings[0].Dot.IsZero() {
			t.Fatalf("LWW value carries dot %v", got.Siblings[0].Dot)
		}
		// The new clock covers both the context and the stored clock, so no
		// replica's older copy can dominate the last write on a merge.
		if want, _ := vclock.Merge(ctx, local.Clock).Increment(actB, t0+100); !got.Clock.Equal(want) {
			t.Fatalf("ctx %v: LWW clock %v, want %v", ctx, got.Clock, want)
		}
		if !got.Clock.Dominates(local.Clock) {
			t.Fatalf("ctx %v: LWW clock %v does not dominate stored %v", ctx, got.Clock, local.Clock)
		}
		if len(local.Siblings) != 4 {
			t.Fatal("LWW modified the stored object")
		}
	}
}
