package dt

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

var (
	fSet  = Field{Name: "s", Type: KindSet}
	fCtr  = Field{Name: "c", Type: KindCounter}
	fReg  = Field{Name: "r", Type: KindRegister}
	fFlag = Field{Name: "f", Type: KindFlag}
	fMap  = Field{Name: "m", Type: KindMap}
)

func upd(f Field, op Op) MapOp { return MapOp{}.Update(f, op) }
func rm(f Field) MapOp         { return MapOp{}.Remove(f) }

func TestMapValueShape(t *testing.T) {
	m := &Map{}
	wantValue(t, m, map[string]any{})
	op := MapOp{}.
		Update(fSet, add("x")).
		Update(fCtr, CounterOp{Delta: 5}).
		Update(fReg, RegisterOp{Value: "v", Timestamp: 10}).
		Update(fFlag, FlagOp{Enable: true}).
		Update(fMap, MapOp{}.Update(Field{Name: "e", Type: KindCounter}, CounterOp{Delta: -2}).
			Update(Field{Name: "g", Type: KindFlag}, FlagOp{}))
	mustApply(t, m, op, aA, Context{})
	wantValue(t, m, map[string]any{
		"s_set": []string{"x"}, "c_counter": int64(5), "r_register": "v", "f_flag": true,
		"m_map": map[string]any{"e_counter": int64(-2), "g_flag": false},
	})
	// One dot for the whole batch.
	if got := m.Context().Clock().Get(aA); got != 1 {
		t.Fatalf("clock %d, want 1", got)
	}
	if got := m.Fields(); !reflect.DeepEqual(got, []Field{fCtr, fFlag, fMap, fReg, fSet}) {
		t.Fatalf("fields %v", got)
	}
	if v, ok := m.Get(fCtr); !ok || v != int64(5) {
		t.Fatalf("Get = %v %v", v, ok)
	}
	roundTrip(t, m)
}

func TestMapRemoveField(t *testing.T) {
	m := &Map{}
	mustApply(t, m, upd(fSet, add("x")).Update(fCtr, CounterOp{Delta: 1}), aA, Context{})
	mustApply(t, m, rm(fSet), aB, m.Context())
	wantValue(t, m, map[string]any{"c_counter": int64(1)})
	// With a context, removing an absent field is a no-op (riak_dt_map's
	// remove_field with a context); without one it is Riak's precondition.
	mustApply(t, m, rm(fSet), aB, m.Context())
	err := m.Apply(rm(fSet), aB, Context{})
	var pe *PreconditionError
	if !errors.As(err, &pe) || pe.Element != "s_set" || len(pe.Path) != 0 {
		t.Fatalf("err = %v, want not_present s_set", err)
	}
	// Nested: the error names the path.
	mustApply(t, m, upd(fMap, upd(fSet, add("y"))), aA, Context{})
	err = m.Apply(upd(fMap, upd(fSet, remove("nope"))), aA, Context{})
	if !errors.As(err, &pe) || pe.Element != "nope" || !reflect.DeepEqual(pe.Path, []Field{fMap, fSet}) {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "m_map.s_set") {
		t.Fatalf("message %q", err)
	}
	err = m.Apply(upd(fMap, rm(fFlag)), aA, Context{})
	if !errors.As(err, &pe) || pe.Element != "f_flag" || !reflect.DeepEqual(pe.Path, []Field{fMap}) {
		t.Fatalf("err = %#v", err)
	}
	// The same removes with a context succeed and change nothing but the
	// map's presence dot of m_map (the update that carries them).
	mustApply(t, m, upd(fMap, upd(fSet, remove("nope"))).Update(fMap, rm(fFlag)), aA, m.Context())
	wantValue(t, m, map[string]any{"c_counter": int64(1), "m_map": map[string]any{"s_set": []string{"y"}}})
}

// TestMapContextRemoveIsObservedRemove: the cases of issue 13 for maps and
// the sets inside them, from riak_dt_map's update/4.
func TestMapContextRemoveIsObservedRemove(t *testing.T) {
	base := &Map{}
	mustApply(t, base, upd(fSet, add("X", "Y")).Update(fCtr, CounterOp{Delta: 1}), aA, Context{})
	ctx := base.Context()

	// An add and a remove of the same element of the set field, in one
	// update with the context: X stays, in either order.
	for _, sop := range []SetOp{SetOp{}.Add("X").Remove("X"), SetOp{}.Remove("X").Add("X")} {
		m := base.Clone().(*Map)
		mustApply(t, m, upd(fSet, sop), aA, ctx)
		wantValue(t, m, map[string]any{"s_set": []string{"X", "Y"}, "c_counter": int64(1)})
	}
	// Updating and removing the same field in one update with the
	// context: the update's effect survives, the seen content goes.
	for _, op := range []MapOp{upd(fSet, add("Z")).Remove(fSet), rm(fSet).Update(fSet, add("Z"))} {
		m := base.Clone().(*Map)
		mustApply(t, m, op, aA, ctx)
		wantValue(t, m, map[string]any{"s_set": []string{"Z"}, "c_counter": int64(1)})
	}
	// Without a context the batch sees its own update: update then remove
	// takes the field away.
	m := base.Clone().(*Map)
	mustApply(t, m, upd(fSet, add("Z")).Remove(fSet), aA, Context{})
	wantValue(t, m, map[string]any{"c_counter": int64(1)})

	// Another client adds field r and element Z; removing them with the
	// context, which saw neither, succeeds and keeps both.
	m = base.Clone().(*Map)
	other := base.Clone().(*Map)
	mustApply(t, other, upd(fReg, RegisterOp{Value: "v", Timestamp: 5}).Update(fSet, add("Z")), aB, Context{})
	mustMerge(t, m, other)
	mustApply(t, m, rm(fReg).Update(fSet, remove("Z")), aA, ctx)
	wantValue(t, m, map[string]any{"s_set": []string{"X", "Y", "Z"}, "c_counter": int64(1), "r_register": "v"})

	// Removing a field and an element that never existed, with the
	// context: a no-op that succeeds.
	m = base.Clone().(*Map)
	mustApply(t, m, rm(fFlag).Update(fSet, remove("bogus")), aA, ctx)
	wantValue(t, m, map[string]any{"s_set": []string{"X", "Y"}, "c_counter": int64(1)})
}

func TestMapApplyIsAtomic(t *testing.T) {
	m := &Map{}
	mustApply(t, m, upd(fSet, add("x")), aA, Context{})
	before := enc(t, m)
	op := MapOp{}.Update(fCtr, CounterOp{Delta: 3}).Remove(fSet).Update(fMap, upd(fSet, remove("zz")))
	if err := m.Apply(op, aA, Context{}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err = %v", err)
	}
	if string(before) != string(enc(t, m)) {
		t.Fatal("failed batch changed the map")
	}
	// Overflow part-way through a batch is atomic too (the value must
	// stay within int64).
	mustApply(t, m, upd(fCtr, CounterOp{Delta: 1<<63 - 2}), aA, Context{})
	before = enc(t, m)
	if err := m.Apply(upd(fSet, add("q")).Update(fCtr, CounterOp{Delta: 2}), aA, Context{}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("err = %v", err)
	}
	if string(before) != string(enc(t, m)) {
		t.Fatal("overflowing batch changed the map")
	}
}

func TestMapInvalidOps(t *testing.T) {
	m := &Map{}
	deep := MapOp{}.Update(fCtr, CounterOp{Delta: 1})
	for range MaxDepth {
		deep = upd(fMap, deep)
	}
	for _, op := range []MapOp{
		upd(Field{Name: "g", Type: KindGSet}, GSetOp{Elements: []string{"x"}}),
		upd(Field{Name: "h", Type: KindHLL}, HLLOp{}),
		upd(fSet, CounterOp{Delta: 1}),
		upd(fReg, RegisterOp{Value: "x"}), // timestamp 0
		{Edits: []MapEdit{{Field: fSet}}},
		{Edits: []MapEdit{{Field: fSet, Remove: true, Op: add("x")}}},
		deep,
	} {
		if err := m.Apply(op, aA, Context{}); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("%#v: err = %v, want ErrInvalidOp", op, err)
		}
	}
	// MaxDepth levels are fine.
	ok := MapOp{}.Update(fCtr, CounterOp{Delta: 1})
	for range MaxDepth - 1 {
		ok = upd(fMap, ok)
	}
	mustApply(t, m, ok, aA, Context{})
	roundTrip(t, m)
	if err := m.ApplyOp(add("x"), aA, Context{}); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("set op on a map: %v", err)
	}
}

// riak_dt PR #90 (dot_key_test): one dot covers every field update of a
// batch, so merge state must be keyed by field, not by dot.
func TestRegressionRiakDT90DotKey(t *testing.T) {
	x := Field{Name: "X", Type: KindSet}
	xf := Field{Name: "X", Type: KindFlag}
	a := &Map{}
	mustApply(t, a, upd(x, add("a")).Update(xf, FlagOp{Enable: true}), aA, Context{})
	b := a.Clone()
	mustApply(t, a, rm(xf), aA, a.Context())
	wantValue(t, merged(t, b, a), map[string]any{"X_set": []string{"a"}})
}

// riak_kv PR #761: a nested update concurrent with removal of the field
// keeps the field, because an update is also an add for its field.
func TestRegressionRiakKV761NestedUpdateVsRemove(t *testing.T) {
	a := &Map{}
	mustApply(t, a, upd(fSet, add("a", "b")), aA, Context{})
	b := a.Clone()
	ctx := a.Context()
	mustApply(t, a, rm(fSet), aA, ctx)
	mustApply(t, b, upd(fSet, remove("a")), aB, ctx) // a nested remove only
	wantValue(t, merged(t, a, b), map[string]any{"s_set": []string{}})
	wantValue(t, merged(t, b, a), map[string]any{"s_set": []string{}})
}

// riak_dt #92 → PR #93: removal must reset a field whether or not it is
// re-added; a concurrent update survives with only its own effect.
func TestRegressionRiakDT93ResetRemove(t *testing.T) {
	base := &Map{}
	mustApply(t, base, upd(fSet, add("a", "b")).
		Update(fFlag, FlagOp{Enable: true}).
		Update(fReg, RegisterOp{Value: "old", Timestamp: 50}).
		Update(fMap, upd(fCtr, CounterOp{Delta: 7})), aA, Context{})
	ctx := base.Context()

	// Removed, not re-added: gone everywhere.
	a := base.Clone()
	mustApply(t, a, rm(fSet).Remove(fFlag).Remove(fReg).Remove(fMap), aA, ctx)
	wantValue(t, merged(t, base, a), map[string]any{})

	// Removed at a while b concurrently updates each field: the fields come
	// back holding only b's updates.
	b := base.Clone()
	mustApply(t, b, upd(fSet, add("c")).
		Update(fFlag, FlagOp{}).
		Update(fReg, RegisterOp{Value: "older", Timestamp: 40}).
		Update(fMap, upd(Field{Name: "z", Type: KindFlag}, FlagOp{Enable: true})), aB, ctx)
	// Before the merge, b still shows the winning older assignment.
	if v, _ := b.(*Map).Get(fReg); v != "old" {
		t.Fatalf("register %v, want old (ts 50 beats ts 40)", v)
	}
	want := map[string]any{
		"s_set":      []string{"c"},
		"f_flag":     false,
		"r_register": "older",
		"m_map":      map[string]any{"z_flag": true},
	}
	wantValue(t, merged(t, a, b), want)
	wantValue(t, merged(t, b, a), want)

	// Removed and re-added at the same replica: reset to the re-add.
	c := base.Clone()
	mustApply(t, c, rm(fSet).Update(fSet, add("d")), aA, ctx)
	wantValue(t, merged(t, base, c), map[string]any{"s_set": []string{"d"}, "f_flag": true, "r_register": "old", "m_map": map[string]any{"c_counter": int64(7)}})
}

// riak_dt #98 (documented limitation, kept from emcntr): an increment
// concurrent with a field removal brings back that actor's whole total,
// not just the concurrent increment.
func TestRiakDT98CounterResetRemoveLimitation(t *testing.T) {
	a := &Map{}
	mustApply(t, a, upd(fCtr, CounterOp{Delta: 10}), aA, Context{})
	b := a.Clone()
	mustApply(t, b, upd(fCtr, CounterOp{Delta: 5}), aB, Context{}) // another actor: reset cleanly
	mustApply(t, a, upd(fCtr, CounterOp{Delta: 1}), aA, Context{}) // same actor as the removed 10
	ctx := b.Context()
	mustMerge(t, b, a)
	mustApply(t, b, rm(fCtr), aB, ctx) // saw 10 (a) and 5 (b), not a's +1
	// Ideal reset-remove would give 1; the per-actor entry carries a's 11.
	wantValue(t, b, map[string]any{"c_counter": int64(11)})
	// A removal that saw everything resets to zero, and re-adding restarts
	// from zero: a stale replica's totals do not come back.
	stale := b.Clone()
	mustApply(t, b, rm(fCtr), aB, b.Context())
	mustApply(t, b, upd(fCtr, CounterOp{Delta: 2}), aB, Context{})
	mustMerge(t, b, stale)
	wantValue(t, b, map[string]any{"c_counter": int64(2)})
}

// riak_dt #99: a deferred remove inside an embedded set was lost when the
// field was later removed at the same replica. riakgo keeps deferred
// removes at the top level with their path.
func TestRegressionRiakDT99DeferredSurvivesFieldRemoval(t *testing.T) {
	a := &Map{}
	mustApply(t, a, upd(fSet, add("x")), aA, Context{})
	ctx := a.Context() // the client saw x@a1

	r := &Map{} // a lagging replica
	mustApply(t, r, upd(fSet, add("y")), aC, Context{})
	mustApply(t, r, upd(fSet, remove("x")), aC, ctx) // deferred: r has not seen a1
	if r.Stats().Deferred != 1 {
		t.Fatal("nested remove not deferred")
	}
	mustApply(t, r, rm(fSet), aC, r.Context()) // the field goes at r
	wantValue(t, r, map[string]any{})
	if r.Stats().Deferred != 1 {
		t.Fatal("field removal lost the deferred remove")
	}
	roundTrip(t, r)
	// x@a1 arrives with a's add of the field, which the field removal at r
	// had not seen: the field survives (add-wins), and the deferred remove
	// takes x.
	mustMerge(t, r, a)
	wantValue(t, r, map[string]any{"s_set": []string{}})
	if r.Stats().Deferred != 0 {
		t.Fatal("deferred remove not discharged")
	}
	// Without the deferred remove x would be back.
	r2 := &Map{}
	mustApply(t, r2, upd(fSet, add("y")), aC, Context{})
	mustApply(t, r2, rm(fSet), aC, r2.Context())
	mustMerge(t, r2, a)
	wantValue(t, r2, map[string]any{"s_set": []string{"x"}})
}

// riak_dt PR #97: counters in maps take negative increments and
// decrements.
func TestRegressionRiakDT97NegativeCounter(t *testing.T) {
	m := &Map{}
	mustApply(t, m, upd(fCtr, CounterOp{Delta: -5}), aA, Context{})
	mustApply(t, m, upd(fCtr, CounterOp{Delta: 2}), aB, Context{})
	mustApply(t, m, upd(fCtr, CounterOp{Delta: -1 << 62}), aC, Context{})
	mustApply(t, m, upd(fCtr, CounterOp{Delta: 1<<62 - 1}), aC, Context{})
	wantValue(t, m, map[string]any{"c_counter": int64(-4)})
}

// riak_dt PR #133/#135 for maps: deferred removes made in different orders
// give equal maps with equal bytes.
func TestRegressionRiakDT135MapDeferredEquality(t *testing.T) {
	ctx1, _ := NewContext(vclock.VClock{{Actor: aA, Counter: 3}})
	ctx2, _ := NewContext(vclock.VClock{{Actor: aB, Counter: 2}})
	ops := []struct {
		op  MapOp
		ctx Context
	}{
		{rm(fSet), ctx1},
		{upd(fMap, upd(fSet, remove("q"))), ctx1},
		{upd(fFlag, FlagOp{}), ctx2},
		{rm(fCtr), ctx2},
	}
	x, y := &Map{}, &Map{}
	for i := range ops {
		mustApply(t, x, ops[i].op, aC, ops[i].ctx)
		j := len(ops) - 1 - i
		mustApply(t, y, ops[j].op, aC, ops[j].ctx)
	}
	// The updates minted different dots in x and y; compare the deferred
	// parts by merging each into the other's empty-clock twin.
	if x.Stats().Deferred != 2 || y.Stats().Deferred != 2 {
		t.Fatalf("deferred %d %d", x.Stats().Deferred, y.Stats().Deferred)
	}
	xx, yy := &Map{deferred: x.deferred}, &Map{deferred: y.deferred}
	sameBytes(t, "deferred map removes in different orders", xx, yy)
}

func TestMapRegisterLWW(t *testing.T) {
	a := &Map{}
	mustApply(t, a, upd(fReg, RegisterOp{Value: "new", Timestamp: 20}), aA, Context{})
	b := &Map{}
	mustApply(t, b, upd(fReg, RegisterOp{Value: "old", Timestamp: 10}), aB, Context{})
	wantValue(t, merged(t, a, b), map[string]any{"r_register": "new"})
	// Same timestamp: the greater actor wins, on every replica.
	c := &Map{}
	mustApply(t, c, upd(fReg, RegisterOp{Value: "tie", Timestamp: 20}), aC, Context{})
	wantValue(t, merged(t, merged(t, a, c), b), map[string]any{"r_register": "tie"})
	// A later assignment with an older timestamp loses, and the register
	// stays small: at most the winner and the new assignment.
	m := merged(t, a, b).(*Map)
	for ts := int64(9); ts > 0; ts-- {
		mustApply(t, m, upd(fReg, RegisterOp{Value: "stale", Timestamp: ts}), aB, Context{})
	}
	wantValue(t, m, map[string]any{"r_register": "new"})
	if n := len(m.fields[fReg].regs); n != 2 {
		t.Fatalf("%d register entries, want 2", n)
	}
}

func TestMapDeferredFieldRemove(t *testing.T) {
	a := &Map{}
	mustApply(t, a, upd(fSet, add("x")).Update(fCtr, CounterOp{Delta: 4}), aA, Context{})
	f := &Map{} // an empty fallback
	mustApply(t, f, rm(fSet).Remove(fCtr), aC, a.Context())
	if f.Stats().Deferred != 1 {
		t.Fatal("not deferred")
	}
	mustApply(t, a, upd(fSet, add("later")), aA, Context{})
	mustMerge(t, f, a)
	wantValue(t, f, map[string]any{"s_set": []string{"later"}})
	if f.Stats().Deferred != 0 {
		t.Fatal("not discharged")
	}
}
