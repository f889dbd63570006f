package dt

import (
	"errors"
	"math"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// TestCounterNeverWraps: issue 12, finding 8. Riak's counters are bignums;
// riakgo's refuse an increment past the int64 range instead of wrapping
// to a negative value, at the top level and inside a map.
func TestCounterNeverWraps(t *testing.T) {
	a := vclock.Actor{ID: 1, Epoch: 1}
	b := vclock.Actor{ID: 2, Epoch: 1}
	var c Counter
	if err := c.Apply(CounterOp{Delta: math.MaxInt64}, a); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(CounterOp{Delta: 1}, b); !errors.Is(err, ErrOverflow) {
		t.Fatalf("MaxInt64 + 1: %v, value %d", err, c.Int())
	}
	if c.Int() != math.MaxInt64 {
		t.Fatalf("value %d after a refused increment", c.Int())
	}
	if err := c.Apply(CounterOp{Delta: -5}, b); err != nil || c.Int() != math.MaxInt64-5 {
		t.Fatalf("a decrement from the top: %v %d", err, c.Int())
	}
	var d Counter
	d.Apply(CounterOp{Delta: math.MinInt64}, a)
	if err := d.Apply(CounterOp{Delta: -1}, b); !errors.Is(err, ErrOverflow) || d.Int() != math.MinInt64 {
		t.Fatalf("MinInt64 - 1: %v %d", err, d.Int())
	}
	// Concurrent increments merged past the top saturate, never wrap.
	var x, y Counter
	x.Apply(CounterOp{Delta: math.MaxInt64}, a)
	y.Apply(CounterOp{Delta: math.MaxInt64}, b)
	if err := x.Merge(&y); err != nil {
		t.Fatal(err)
	}
	if x.Int() != math.MaxInt64 {
		t.Fatalf("merged value %d, want the saturated maximum", x.Int())
	}
	if err := x.Apply(CounterOp{Delta: 1}, a); !errors.Is(err, ErrOverflow) {
		t.Fatalf("increment of an out-of-range counter: %v", err)
	}
	if err := x.Apply(CounterOp{Delta: -1}, a); err != nil {
		t.Fatalf("decrement of an out-of-range counter: %v", err)
	}

	// In a map.
	m := &Map{}
	up := func(delta int64) error {
		return m.ApplyOp(MapOp{Edits: []MapEdit{{Field: Field{Name: "c", Type: KindCounter}, Op: CounterOp{Delta: delta}}}}, a, Context{})
	}
	if err := up(math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if err := up(1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("map counter MaxInt64 + 1: %v", err)
	}
}
