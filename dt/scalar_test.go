package dt

import (
	"errors"
	"math"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

func TestCounter(t *testing.T) {
	a, b := &Counter{}, &Counter{}
	wantValue(t, a, int64(0))
	mustApply(t, a, CounterOp{Delta: 5}, aA, Context{})
	mustApply(t, a, CounterOp{Delta: -2}, aA, Context{})
	mustApply(t, b, CounterOp{Delta: 10}, aB, Context{})
	mustApply(t, b, CounterOp{Delta: 0}, vclock.Actor{}, Context{}) // no-op, no actor needed
	mustMerge(t, a, b)
	mustMerge(t, a, b)
	wantValue(t, a, int64(13))
	if a.Positive() != 15 || a.Negative() != 2 || a.Stats().Actors != 2 {
		t.Fatalf("P=%d N=%d %+v", a.Positive(), a.Negative(), a.Stats())
	}
	// Per-actor max: a stale copy of a's entry does not double count.
	stale := a.Clone()
	mustApply(t, a, CounterOp{Delta: 1}, aA, Context{})
	mustMerge(t, a, stale)
	wantValue(t, a, int64(14))
	if err := a.Apply(CounterOp{Delta: 1}, vclock.Actor{}); !errors.Is(err, ErrInvalidActor) {
		t.Fatalf("zero actor: %v", err)
	}
}

func TestCounterExtremes(t *testing.T) {
	c := &Counter{}
	mustApply(t, c, CounterOp{Delta: math.MinInt64}, aA, Context{})
	wantValue(t, c, int64(math.MinInt64))
	mustApply(t, c, CounterOp{Delta: math.MaxInt64}, aA, Context{})
	wantValue(t, c, int64(-1))
	mustApply(t, c, CounterOp{Delta: math.MaxInt64}, aA, Context{})
	before := enc(t, c)
	if err := c.Apply(CounterOp{Delta: 2}, aA); !errors.Is(err, ErrOverflow) {
		t.Fatalf("err = %v, want ErrOverflow", err)
	}
	if string(before) != string(enc(t, c)) {
		t.Fatal("overflow changed the counter")
	}
	mustApply(t, c, CounterOp{Delta: math.MinInt64 + 1}, aA, Context{}) // N = 2^64-1
	if err := c.Apply(CounterOp{Delta: -1}, aA); !errors.Is(err, ErrOverflow) {
		t.Fatalf("err = %v, want ErrOverflow", err)
	}
	roundTrip(t, c)
	if err := c.ApplyOp(add("x"), aA, Context{}); !errors.Is(err, ErrTypeMismatch) {
		t.Fatal(err)
	}
	if err := c.Merge(&Set{}); !errors.Is(err, ErrTypeMismatch) {
		t.Fatal(err)
	}
}

func TestRegister(t *testing.T) {
	r := &Register{}
	wantValue(t, r, "")
	mustApply(t, r, RegisterOp{Value: "a", Timestamp: 10}, aA, Context{})
	mustApply(t, r, RegisterOp{Value: "older", Timestamp: 9}, aB, Context{})
	wantValue(t, r, "a")
	// Equal timestamps: the greater actor wins, whichever arrives first.
	x := r.Clone()
	mustApply(t, x, RegisterOp{Value: "b", Timestamp: 10}, aB, Context{})
	y := &Register{}
	mustApply(t, y, RegisterOp{Value: "b", Timestamp: 10}, aB, Context{})
	mustMerge(t, y, r)
	sameBytes(t, "tie", x, y)
	wantValue(t, y, "b")
	if ts, a := y.Timestamp(); ts != 10 || a != aB {
		t.Fatalf("timestamp %d %v", ts, a)
	}
	for _, ts := range []int64{0, -1} {
		if err := r.Apply(RegisterOp{Value: "z", Timestamp: ts}, aA); !errors.Is(err, ErrInvalidOp) {
			t.Fatalf("timestamp %d: %v", ts, err)
		}
	}
	roundTrip(t, r)
	roundTrip(t, &Register{})
}

func TestGSet(t *testing.T) {
	g := &GSet{}
	wantValue(t, g, []string{})
	mustApply(t, g, GSetOp{Elements: []string{"b", "a", "b"}}, vclock.Actor{}, Context{})
	h := &GSet{}
	mustApply(t, h, GSetOp{Elements: []string{"c", "a"}}, aB, Context{})
	mustMerge(t, g, h)
	wantValue(t, g, []string{"a", "b", "c"})
	if !g.Contains("c") || g.Contains("z") {
		t.Fatal("Contains wrong")
	}
	roundTrip(t, g)
}

func TestKindsAndFields(t *testing.T) {
	for _, k := range []Kind{KindCounter, KindSet, KindMap, KindRegister, KindFlag, KindGSet, KindHLL} {
		got, ok := ParseKind(k.String())
		if !ok || got != k || !k.Valid() {
			t.Fatalf("kind %v round trip", k)
		}
		v, err := New(k)
		if err != nil || v.Kind() != k {
			t.Fatalf("New(%v) = %v, %v", k, v, err)
		}
		if v.Context().IsZero() != (k != KindSet && k != KindMap && k != KindFlag) {
			t.Fatalf("%v context", k)
		}
		roundTrip(t, v)
	}
	if _, err := New(Kind(0)); !errors.Is(err, ErrTypeMismatch) {
		t.Fatal(err)
	}
	for in, want := range map[string]Field{
		"likes_counter":  {Name: "likes", Type: KindCounter},
		"a_b_set":        {Name: "a_b", Type: KindSet},
		"_map":           {Name: "", Type: KindMap},
		"x_set_register": {Name: "x_set", Type: KindRegister},
	} {
		f, err := ParseField(in)
		if err != nil || f != want || f.String() != in {
			t.Errorf("ParseField(%q) = %v, %v", in, f, err)
		}
	}
	for _, bad := range []string{"nosuffix", "x_gset", "x_hll", "x_widget", ""} {
		if _, err := ParseField(bad); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("ParseField(%q): %v", bad, err)
		}
	}
}

func TestRequiresContext(t *testing.T) {
	for op, want := range map[string]struct {
		op   Op
		want bool
	}{
		"add":          {add("x"), false},
		"remove":       {remove("x"), true},
		"empty remove": {SetOp{}.Remove(), false},
		"enable":       {FlagOp{Enable: true}, false},
		"disable":      {FlagOp{}, true},
		"map update":   {upd(fSet, add("x")), false},
		"map remove":   {rm(fSet), true},
		"nested":       {upd(fMap, upd(fFlag, FlagOp{})), true},
		"counter":      {CounterOp{Delta: -1}, false},
	} {
		if got := RequiresContext(want.op); got != want.want {
			t.Errorf("%s: %v", op, got)
		}
	}
}

func TestContextEncoding(t *testing.T) {
	if c, err := ParseContext(nil); err != nil || !c.IsZero() || c.Bytes() != nil {
		t.Fatalf("empty: %v %v", c, err)
	}
	s := &Set{}
	empty := s.Context()
	if empty.IsZero() {
		t.Fatal("an empty set's context must say it saw nothing, not be absent")
	}
	c, err := ParseContext(empty.Bytes())
	if err != nil || c.IsZero() || len(c.Clock()) != 0 {
		t.Fatalf("seen-nothing context: %v %v", c, err)
	}
	mustApply(t, s, add("x"), aA, Context{})
	mustApply(t, s, add("y"), vclock.Actor{ID: math.MaxUint64, Epoch: math.MaxUint32}, Context{})
	c, err = ParseContext(s.Context().Bytes())
	if err != nil || !c.Clock().Equal(s.Context().Clock()) {
		t.Fatalf("round trip: %v %v", c, err)
	}
	var u Context
	if err := u.UnmarshalBinary(s.Context().Bytes()); err != nil || u.String() != c.String() {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{
		{'X'}, {'X', 2, 0}, {'Y', 1, 0}, {'X', 1, 1, 1, 1}, {'X', 1, 0, 0},
		{'X', 1, 1, 0, 0, 1},                            // zero actor
		{'X', 1, 1, 1, 0, 0},                            // zero counter
		{'X', 1, 2, 2, 0, 1, 1, 0, 1},                   // out of order
		{'X', 1, 2, 1, 0, 1, 1, 0, 1},                   // repeated
		{'X', 1, 1, 0x81, 0x00, 0, 1},                   // non-minimal varint
		{'X', 1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 1}, // epoch > 2^32-1
		{'X', 1, 0xff, 0xff, 0xff, 0xff, 0x0f},          // huge count
	} {
		if _, err := ParseContext(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseContext(%x) = %v", bad, err)
		}
	}
	if _, err := NewContext(vclock.VClock{{Actor: aB, Counter: 1}, {Actor: aA, Counter: 1}}); !errors.Is(err, ErrMalformed) {
		t.Fatal("NewContext accepted an unsorted clock")
	}
}
