package dt

import (
	"errors"
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

func add(xs ...string) SetOp    { return SetOp{}.Add(xs...) }
func remove(xs ...string) SetOp { return SetOp{}.Remove(xs...) }

func TestSetBasics(t *testing.T) {
	s := &Set{}
	wantValue(t, s, []string{})
	mustApply(t, s, add("b", "a"), aA, Context{})
	mustApply(t, s, add("c"), aA, Context{})
	wantValue(t, s, []string{"a", "b", "c"})
	if !s.Contains("a") || s.Contains("z") || s.Len() != 3 {
		t.Fatal("Contains/Len wrong")
	}
	// One dot per Apply: add_all of two elements advanced the clock once.
	if got := s.Context().Clock().Get(aA); got != 2 {
		t.Fatalf("clock %d, want 2", got)
	}
	ctx := s.Context()
	mustApply(t, s, remove("a"), aB, ctx)
	wantValue(t, s, []string{"b", "c"})
	// Removing it again with the context is a no-op, as in riak_dt: the
	// remove it asks for has been done.
	before := enc(t, s)
	mustApply(t, s, remove("a"), aB, ctx)
	if string(before) != string(enc(t, s)) {
		t.Fatal("a repeated context remove changed the set")
	}
	// Without a context a remove acts on the local state, as Riak does, and
	// an absent element is Riak's precondition failure.
	mustApply(t, s, remove("b"), aB, Context{})
	wantValue(t, s, []string{"c"})
	err := s.Apply(remove("a"), aB, Context{})
	var pe *PreconditionError
	if !errors.As(err, &pe) || pe.Element != "a" || !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err = %v, want precondition on a", err)
	}
	if err.Error() != `riakgo/dt: precondition {not_present,<<"a">>}` {
		t.Fatalf("message %q", err.Error())
	}
	// Removes alone mint no dot and need no actor.
	clk := s.Context().Clock()
	mustApply(t, s, remove("c"), vclock.Actor{}, Context{})
	if !s.Context().Clock().Equal(clk) {
		t.Fatal("a remove advanced the clock")
	}
	if err := s.Apply(add("x"), vclock.Actor{}, Context{}); !errors.Is(err, ErrInvalidActor) {
		t.Fatalf("add with the zero actor: %v", err)
	}
}

// TestSetReferenceWorkedExample is §2.4 of the reference: a remove with a
// stale context leaves the unseen re-add; at an empty fallback the remove is
// deferred and applied when the add arrives.
func TestSetReferenceWorkedExample(t *testing.T) {
	a := &Set{}
	mustApply(t, a, add("x", "y"), aA, Context{}) // x@{a:1}, y@{a:1}
	b := a.Clone()                                // replicated to b
	ctx := b.Context()                            // a client reads at b: {a:1}
	wantValue(t, b, []string{"x", "y"})
	mustApply(t, a, add("x"), aA, Context{}) // another client re-adds x: x@{a:2}

	// Riak's add replaces the element's dots, so x is now x@{a:2} only and
	// nothing the context saw is left: the remove succeeds and x stays (the
	// re-add wins), as riak_dt does.
	mustApply(t, a, remove("x"), aA, ctx)
	wantValue(t, a, []string{"x", "y"})

	// A remove of y with the same context at a removes y@{a:1}.
	mustApply(t, a, remove("y"), aA, ctx)
	wantValue(t, a, []string{"x"})

	// An empty fallback f receives the removes: it defers them.
	f := &Set{}
	mustApply(t, f, remove("x", "y"), aC, ctx)
	if f.Stats().Deferred != 1 {
		t.Fatalf("deferred = %d, want 1", f.Stats().Deferred)
	}
	roundTrip(t, f)
	// f later merges b's state (x@a:1): the deferred remove applies.
	mustMerge(t, f, b)
	wantValue(t, f, []string{})
	if f.Stats().Deferred != 0 {
		t.Fatal("deferred remove not discharged")
	}
	// And merging a's re-add keeps x: the remover never saw {a:2}.
	mustMerge(t, f, a)
	wantValue(t, f, []string{"x"})
}

// TestSetRemoveAfterReplacedDot: a re-add concurrent with the read
// survives a context remove, which succeeds.
func TestSetRemoveAfterReplacedDot(t *testing.T) {
	a := &Set{}
	mustApply(t, a, add("x"), aA, Context{})
	ctx := a.Context()
	b := a.Clone().(*Set)
	mustApply(t, b, add("x"), aB, Context{}) // replaces x@a1 by x@b1
	mustApply(t, b, remove("x"), aB, ctx)    // every add of x left is concurrent with the read
	wantValue(t, b, []string{"x"})
}

// TestSetContextRemoveIsObservedRemove holds the three cases of issue 13,
// from riak_dt_orswot's update/4: a remove with a context drops only the
// dots its context covers and never answers a precondition failure; only a
// remove without a context of an absent element does.
func TestSetContextRemoveIsObservedRemove(t *testing.T) {
	base := &Set{}
	mustApply(t, base, add("X", "Y"), aA, Context{})
	ctx := base.Context() // a client fetches {X, Y}

	// 1. Add X and remove X in one update with the context, in either
	// order: the add's new dot is outside the context, so X stays.
	for _, op := range []SetOp{SetOp{}.Add("X").Remove("X"), SetOp{}.Remove("X").Add("X")} {
		s := base.Clone().(*Set)
		mustApply(t, s, op, aA, ctx)
		wantValue(t, s, []string{"X", "Y"})
		// At another replica too, and the result survives merging.
		o := base.Clone().(*Set)
		mustApply(t, o, op, aB, ctx)
		mustMerge(t, o, s)
		wantValue(t, o, []string{"X", "Y"})
	}
	// Without a context the batch sees its own add: [add X, remove X]
	// removes X, [remove X, add X] keeps it (riak_dt's batch_order_test).
	s := base.Clone().(*Set)
	mustApply(t, s, SetOp{}.Add("X").Remove("X"), aA, Context{})
	wantValue(t, s, []string{"Y"})
	s = base.Clone().(*Set)
	mustApply(t, s, SetOp{}.Remove("X").Add("X"), aA, Context{})
	wantValue(t, s, []string{"X", "Y"})

	// 2. Another client adds Z; removing Z with the context, which never
	// saw Z, succeeds and Z stays, here and after merging.
	s = base.Clone().(*Set)
	other := base.Clone().(*Set)
	mustApply(t, other, add("Z"), aB, Context{})
	mustMerge(t, s, other)
	mustApply(t, s, remove("Z"), aA, ctx)
	wantValue(t, s, []string{"X", "Y", "Z"})
	mustApply(t, other, remove("Z"), aB, ctx)
	mustMerge(t, other, s)
	wantValue(t, other, []string{"X", "Y", "Z"})

	// 3. Removing an element that never existed with the context is a
	// successful no-op.
	s = base.Clone().(*Set)
	before := enc(t, s)
	mustApply(t, s, remove("bogus"), aA, ctx)
	if string(before) != string(enc(t, s)) {
		t.Fatal("removing an absent element with a context changed the set")
	}

	// Only without a context is an absent element a precondition failure.
	var pe *PreconditionError
	if err := s.Apply(remove("bogus"), aA, Context{}); !errors.As(err, &pe) || pe.Element != "bogus" {
		t.Fatalf("context-free remove of an absent element: %v", err)
	}
}

// TestSetAddWins: whatever the history, a context remove concurrent with an
// add of the same element never removes that add.
func TestSetAddWins(t *testing.T) {
	r := newRand(t)
	for i := range 500 {
		a, b := &Set{}, &Set{}
		for range r.IntN(12) {
			x := pick(r, universe)
			switch r.IntN(4) {
			case 0:
				_ = a.Apply(add(x), aA, Context{})
			case 1:
				_ = b.Apply(add(x), aB, Context{})
			case 2:
				_ = a.Apply(remove(x), aA, b.Context())
			default:
				mustMerge(t, a, b)
				mustMerge(t, b, a)
			}
		}
		read := a.Clone().(*Set)
		if read.Len() == 0 {
			continue
		}
		x := pick(r, read.Elements())
		mustApply(t, b, add(x), aB, Context{}) // concurrent with the read
		if err := a.Apply(remove(x), aA, read.Context()); err != nil {
			t.Fatalf("iteration %d: remove %s: %v", i, x, err)
		}
		mustMerge(t, a, b)
		mustMerge(t, b, a)
		if !a.Contains(x) || !b.Contains(x) {
			t.Fatalf("iteration %d: the concurrent add of %s was removed", i, x)
		}
	}
}

func TestSetBatchOrder(t *testing.T) {
	s := &Set{}
	mustApply(t, s, add("x", "y"), aA, Context{})
	ctx := s.Context()
	// riak_dt PR #95 (batch_order_test): edits apply in the order given.
	// Without a context a later remove sees the batch's earlier add.
	mustApply(t, s, SetOp{}.Add("z").Remove("z"), aA, Context{})
	wantValue(t, s, []string{"x", "y"})
	mustApply(t, s, SetOp{}.Remove("x").Add("x"), aA, Context{})
	wantValue(t, s, []string{"x", "y"})
	mustApply(t, s, SetOp{}.Remove("x").Add("x").Remove("x"), aA, Context{})
	wantValue(t, s, []string{"y"})
	// With a context a remove drops only what the context saw: the batch's
	// own add of z and re-add of y survive, the seen y does not come back
	// by itself.
	mustApply(t, s, SetOp{}.Add("z").Remove("z"), aA, ctx)
	wantValue(t, s, []string{"y", "z"})
	mustApply(t, s, SetOp{}.Remove("y").Add("y").Remove("y"), aA, ctx)
	wantValue(t, s, []string{"y", "z"})
	mustApply(t, s, SetOp{}.Remove("y"), aA, ctx) // y's dots are all newer than ctx
	wantValue(t, s, []string{"y", "z"})
}

func TestSetApplyIsAtomic(t *testing.T) {
	s := &Set{}
	mustApply(t, s, add("x"), aA, Context{})
	before := enc(t, s)
	err := s.Apply(SetOp{}.Add("y").Remove("x").Remove("nope"), aA, Context{})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err = %v", err)
	}
	if string(before) != string(enc(t, s)) {
		t.Fatal("failed batch changed the set")
	}
}

// riak_dt PR #78/#79: "if one side's clock dominates, return it" used
// descends and lost removes (disjoint_merge_test).
func TestRegressionRiakDT79DisjointMerge(t *testing.T) {
	a, b := &Set{}, &Set{}
	mustApply(t, a, add("foo", "bar"), aA, Context{})
	mustApply(t, b, add("baz"), aB, Context{})
	mustMerge(t, a, b)
	mustApply(t, a, remove("bar"), aA, a.Context())
	mustMerge(t, b, a)
	wantValue(t, b, []string{"baz", "foo"})
	mustMerge(t, a, b)
	wantValue(t, a, []string{"baz", "foo"})
}

// riak_dt PR #82: present_but_removed_test.
func TestRegressionRiakDT82PresentButRemoved(t *testing.T) {
	a := &Set{}
	mustApply(t, a, add("Z"), aA, Context{})
	c := a.Clone()
	mustApply(t, a, remove("Z"), aA, Context{})
	b := &Set{}
	mustApply(t, b, add("Z"), aB, Context{})
	a3 := merged(t, b, a)
	mustApply(t, b, remove("Z"), aB, Context{})
	m := a3.Clone()
	for _, s := range []CRDT{c, b, c} {
		mustMerge(t, m, s)
	}
	wantValue(t, m, []string{})
}

// riak_dt PR #82: no_dots_left_test.
func TestRegressionRiakDT82NoDotsLeft(t *testing.T) {
	a, b := &Set{}, &Set{}
	mustApply(t, a, add("Z"), aA, Context{})
	mustApply(t, b, add("Z"), aB, Context{})
	c := a.Clone()
	mustApply(t, a, remove("Z"), aA, Context{})
	a3 := merged(t, a, b)
	mustApply(t, b, remove("Z"), aB, Context{})
	b3 := merged(t, b, c)
	m := a3.Clone()
	mustMerge(t, m, b3)
	mustMerge(t, m, c)
	wantValue(t, m, []string{})
	if setOf(m).Stats().Elements != 0 {
		t.Fatal("an element without dots survived")
	}
}

// riak_dt PR #133/#135: equal/2 compared an unordered dict of deferred ops.
func TestRegressionRiakDT135DeferredEquality(t *testing.T) {
	ctx1, _ := NewContext(vclock.VClock{{Actor: aA, Counter: 3}})
	ctx2, _ := NewContext(vclock.VClock{{Actor: aB, Counter: 2}})
	x, y := &Set{}, &Set{}
	mustApply(t, x, remove("p", "q"), aC, ctx1)
	mustApply(t, x, remove("r"), aC, ctx2)
	mustApply(t, y, remove("r"), aC, ctx2)
	mustApply(t, y, remove("q"), aC, ctx1)
	mustApply(t, y, remove("p"), aC, ctx1)
	sameBytes(t, "deferred in different orders", x, y)
}

func TestSetDeferredCap(t *testing.T) {
	s := &Set{}
	for i := range MaxDeferred {
		ctx, _ := NewContext(vclock.VClock{{Actor: aA, Counter: uint64(i + 1)}})
		mustApply(t, s, remove("x"), aC, ctx)
	}
	before := enc(t, s)
	ctx, _ := NewContext(vclock.VClock{{Actor: aA, Counter: 1000}})
	if err := s.Apply(remove("x"), aC, ctx); !errors.Is(err, ErrTooManyDeferred) {
		t.Fatalf("err = %v, want ErrTooManyDeferred", err)
	}
	if string(before) != string(enc(t, s)) {
		t.Fatal("refused remove changed the set")
	}
	// A remove under a context already pending joins it.
	ctx, _ = NewContext(vclock.VClock{{Actor: aA, Counter: 5}})
	mustApply(t, s, remove("y"), aC, ctx)
	if s.Stats().Deferred != MaxDeferred {
		t.Fatalf("deferred = %d", s.Stats().Deferred)
	}
	// Catching up discharges them all and nothing is left behind.
	src := &Set{}
	for range 70 {
		mustApply(t, src, add("w"), aA, Context{})
	}
	mustMerge(t, s, src)
	if st := s.Stats(); st.Deferred != 0 || fmt.Sprint(s.Value()) != "[w]" {
		t.Fatalf("after catching up: %+v %v", st, s.Value())
	}
}

func TestFlag(t *testing.T) {
	a := &Flag{}
	wantValue(t, a, false)
	mustApply(t, a, FlagOp{Enable: true}, aA, Context{})
	wantValue(t, a, true)
	b := a.Clone()
	ctx := a.Context()
	// Concurrent disable (with context) and enable: enable wins.
	mustApply(t, a, FlagOp{}, aA, ctx)
	wantValue(t, a, false)
	mustApply(t, b, FlagOp{Enable: true}, aB, Context{})
	mustMerge(t, a, b)
	wantValue(t, a, true)
	// Disable having seen everything: off everywhere.
	mustApply(t, a, FlagOp{}, aA, a.Context())
	mustMerge(t, b, a)
	wantValue(t, b, false)
	// Disabling a disabled flag is not an error.
	mustApply(t, b, FlagOp{}, aB, b.Context())
	mustApply(t, b, FlagOp{}, aB, Context{})
}

// riak_dt PR #82: the od_flag was "broken by design" the same way as the
// set: each side's enable removed by the other must not resurrect.
func TestRegressionRiakDT82Flag(t *testing.T) {
	a, b := &Flag{}, &Flag{}
	mustApply(t, a, FlagOp{Enable: true}, aA, Context{})
	mustApply(t, b, FlagOp{Enable: true}, aB, Context{})
	c := a.Clone()
	mustApply(t, a, FlagOp{}, aA, Context{})
	a3 := merged(t, a, b)
	mustApply(t, b, FlagOp{}, aB, Context{})
	b3 := merged(t, b, c)
	m := a3.Clone()
	mustMerge(t, m, b3)
	mustMerge(t, m, c)
	wantValue(t, m, false)
}

func TestFlagDeferredDisable(t *testing.T) {
	a := &Flag{}
	mustApply(t, a, FlagOp{Enable: true}, aA, Context{})
	f := &Flag{}
	mustApply(t, f, FlagOp{}, aC, a.Context()) // f has not seen the enable
	if f.Stats().Deferred != 1 {
		t.Fatal("disable not deferred")
	}
	roundTrip(t, f)
	mustMerge(t, f, a)
	wantValue(t, f, false)
	if f.Stats().Deferred != 0 {
		t.Fatal("deferred disable not discharged")
	}
}
