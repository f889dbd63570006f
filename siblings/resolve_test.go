package siblings_test

import (
	"testing"

	"github.com/riakgo/riakgo/siblings"
)

func sibAt(v string, lastModified int64, deleted bool) siblings.Sibling {
	s := val(v)
	s.Meta.LastModified = lastModified
	s.Meta.Deleted = deleted
	return s
}

// permutations calls f with every ordering of s.
func permutations(s []siblings.Sibling, f func([]siblings.Sibling)) {
	var rec func(k int)
	rec = func(k int) {
		if k == len(s) {
			f(append([]siblings.Sibling(nil), s...))
			return
		}
		for i := k; i < len(s); i++ {
			s[k], s[i] = s[i], s[k]
			rec(k + 1)
			s[k], s[i] = s[i], s[k]
		}
	}
	rec(0)
}

func TestChooseLatest(t *testing.T) {
	tests := []struct {
		name string
		sibs []siblings.Sibling
		want string
	}{
		{"later LastModified wins", []siblings.Sibling{
			sibAt("a", 100, false), sibAt("b", 300, false), sibAt("c", 200, false)}, "b"},
		{"later tombstone beats earlier live value", []siblings.Sibling{
			sibAt("live", 100, false), sibAt("dead", 101, true)}, "dead"},
		{"tie: live beats tombstone", []siblings.Sibling{
			sibAt("dead", 100, true), sibAt("live", 100, false), sibAt("old", 99, false)}, "live"},
		{"tie: live beats tombstone even with a larger vtag", []siblings.Sibling{
			sibAt("zzz", 100, true), sibAt("aaa", 100, false)}, "aaa"},
		{"tie: larger vtag wins", []siblings.Sibling{
			sibAt("m", 100, false), sibAt("x", 100, false), sibAt("c", 100, false), sibAt("d", 100, true)}, "x"},
		{"tie of tombstones: larger vtag", []siblings.Sibling{
			sibAt("p", 100, true), sibAt("q", 100, true)}, "q"},
		{"tie on vtag: larger value", func() []siblings.Sibling {
			a, b := sibAt("v1", 100, false), sibAt("v2", 100, false)
			a.Meta.VTag, b.Meta.VTag = "same", "same"
			return []siblings.Sibling{b, a}
		}(), "v2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := clk(actA, 3, actB, 1)
			permutations(tc.sibs, func(p []siblings.Sibling) {
				in := &siblings.Object{Clock: clock, Siblings: p}
				before := deepCopy(in)
				got := siblings.ChooseLatest(in)
				if len(got.Siblings) != 1 || string(got.Siblings[0].Value) != tc.want {
					t.Fatalf("ChooseLatest(%s) = %s, want %s", describe(in), describe(got), tc.want)
				}
				if !got.Clock.Equal(clock) {
					t.Fatalf("clock %v, want %v kept", got.Clock, clock)
				}
				if !identical(in, before) {
					t.Fatal("ChooseLatest modified its argument")
				}
			})
		})
	}
}

func TestChooseLatestTrivial(t *testing.T) {
	if siblings.ChooseLatest(nil) != nil {
		t.Fatal("ChooseLatest(nil) != nil")
	}
	for _, o := range []*siblings.Object{
		{},
		{Clock: clk(actA, 1), Siblings: []siblings.Sibling{val("only")}},
	} {
		if got := siblings.ChooseLatest(o); got != o {
			t.Fatalf("ChooseLatest(%s) = %s, want the object itself", describe(o), describe(got))
		}
	}
}

func TestReconcile(t *testing.T) {
	if siblings.Reconcile(nil, false) != nil || siblings.Reconcile([]*siblings.Object{nil, nil}, true) != nil {
		t.Fatal("Reconcile of no objects != nil")
	}
	r := newRand(t)
	for run := 0; run < 200; run++ {
		h := newHistory(r, 3, dvvOn)
		for i := 0; i < 20; i++ {
			h.step(t, plainUpdate)
		}
		objs := append([]*siblings.Object{nil}, h.replicas...)
		merged := siblings.Merge(siblings.Merge(h.replicas[0], h.replicas[1]), h.replicas[2])

		all := siblings.Reconcile(objs, true)
		if !siblings.Equal(all, merged) {
			t.Fatalf("Reconcile(allowMult) = %s, want the merge %s", describe(all), describe(merged))
		}
		one := siblings.Reconcile(objs, false)
		if len(one.Siblings) != 1 || !one.Clock.Equal(merged.Clock) {
			t.Fatalf("Reconcile(!allowMult) = %s", describe(one))
		}
		if !siblings.Equal(one, siblings.ChooseLatest(merged)) {
			t.Fatalf("Reconcile(!allowMult) = %s, want the latest of %s", describe(one), describe(merged))
		}
		// Every replica order gives the same answer.
		for _, p := range [][]int{{3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}} {
			perm := make([]*siblings.Object, len(objs))
			for i, j := range p {
				perm[i] = objs[j]
			}
			if got := siblings.Reconcile(perm, false); !siblings.Equal(got, one) {
				t.Fatalf("Reconcile depends on order: %s vs %s", describe(got), describe(one))
			}
			if got := siblings.Reconcile(perm, true); !siblings.Equal(got, all) {
				t.Fatalf("Reconcile(allowMult) depends on order: %s vs %s", describe(got), describe(all))
			}
		}
	}
}
