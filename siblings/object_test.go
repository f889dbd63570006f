package siblings_test

import (
	"testing"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

func TestIsTombstoneAndLive(t *testing.T) {
	live, dead := val("x"), sibAt("y", 0, true)
	tests := []struct {
		name      string
		o         *siblings.Object
		tombstone bool
		live      int
	}{
		{"nil", nil, false, -1},
		{"no siblings", &siblings.Object{Clock: clk(actA, 1)}, false, 0},
		{"one live", &siblings.Object{Siblings: []siblings.Sibling{live}}, false, 1},
		{"one tombstone", &siblings.Object{Siblings: []siblings.Sibling{dead}}, true, 0},
		{"all tombstones", &siblings.Object{Siblings: []siblings.Sibling{dead, dead}}, true, 0},
		{"live and tombstone", &siblings.Object{Siblings: []siblings.Sibling{dead, live}}, false, 1},
		{"two live", &siblings.Object{Siblings: []siblings.Sibling{live, dead, live}}, false, 2},
	}
	for _, tc := range tests {
		if got := tc.o.IsTombstone(); got != tc.tombstone {
			t.Errorf("%s: IsTombstone = %v, want %v", tc.name, got, tc.tombstone)
		}
		if tc.live >= 0 {
			if got := tc.o.Live(); got != tc.live {
				t.Errorf("%s: Live = %d, want %d", tc.name, got, tc.live)
			}
		}
	}
	// A delete written through Update with the read context is a tombstone.
	o := siblings.Update(nil, val("v"), nil, actA, t0, dvvOn)
	o = siblings.Update(o, sibAt("", 0, true), o.Clock, actA, t0, dvvOn)
	if !o.IsTombstone() || o.Live() != 0 {
		t.Fatalf("delete with context: %s", describe(o))
	}
	// A concurrent delete leaves the live sibling.
	c := siblings.Update(o, val("again"), nil, actA, t0, dvvOn)
	if c.IsTombstone() || c.Live() != 1 || len(c.Siblings) != 2 {
		t.Fatalf("blind write next to tombstone: %s", describe(c))
	}
}

func TestLastModified(t *testing.T) {
	o := &siblings.Object{Siblings: []siblings.Sibling{sibAt("a", 5, false), sibAt("b", 9, true), sibAt("c", 7, false)}}
	if got := o.LastModified(); got != 9 {
		t.Fatalf("LastModified = %d, want 9", got)
	}
	if got := (&siblings.Object{}).LastModified(); got != 0 {
		t.Fatalf("LastModified of empty = %d", got)
	}
}

func TestEqual(t *testing.T) {
	a := runTrace(dvvOn)[4]
	b := deepCopy(a)
	if !siblings.Equal(a, b) || !siblings.Equal(nil, nil) || siblings.Equal(a, nil) || siblings.Equal(nil, a) {
		t.Fatal("Equal basics")
	}
	// Clock timestamps are not part of equality.
	b.Clock[0].Timestamp++
	if !siblings.Equal(a, b) {
		t.Fatal("Equal compares clock timestamps")
	}
	for name, mutate := range map[string]func(o *siblings.Object){
		"clock":   func(o *siblings.Object) { o.Clock, _ = o.Clock.Increment(actB, 0) },
		"order":   func(o *siblings.Object) { o.Siblings[0], o.Siblings[1] = o.Siblings[1], o.Siblings[0] },
		"dot":     func(o *siblings.Object) { o.Siblings[0].Dot = vclock.Dot{} },
		"value":   func(o *siblings.Object) { o.Siblings[0].Value = []byte("other") },
		"vtag":    func(o *siblings.Object) { o.Siblings[0].Meta.VTag = "other" },
		"deleted": func(o *siblings.Object) { o.Siblings[0].Meta.Deleted = true },
		"count":   func(o *siblings.Object) { o.Siblings = o.Siblings[:1] },
	} {
		c := deepCopy(a)
		mutate(c)
		if siblings.Equal(a, c) || siblings.Equal(c, a) {
			t.Errorf("Equal ignores a different %s", name)
		}
	}
}
