package metadata

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// randomHistory returns the entries of three replicas after random local
// writes and merges between them.
func randomHistory(r *rand.Rand) []Entry {
	nodes := []ring.NodeID{"a", "b", "c"}
	reps := make([]Entry, 3)
	for step := 0; step < 1+r.IntN(12); step++ {
		i := r.IntN(3)
		switch r.IntN(3) {
		case 0, 1:
			reps[i] = reps[i].Write(nodes[i], int64(r.IntN(5)), []byte(fmt.Sprint("v", step)), r.IntN(5) == 0)
		default:
			reps[i] = Merge(reps[i], reps[r.IntN(3)])
		}
	}
	return reps
}

// Merge is a join: commutative, associative and idempotent, and its result
// descends both sides; every replica resolves the merged state alike.
func TestMergeLaws(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 3000; i++ {
		h := randomHistory(r)
		a, b, c := h[0], h[1], h[2]
		if ab, ba := Merge(a, b), Merge(b, a); !Equal(ab, ba) {
			t.Fatalf("not commutative:\n%+v\n%+v", ab, ba)
		}
		if l, rr := Merge(Merge(a, b), c), Merge(a, Merge(b, c)); !Equal(l, rr) {
			t.Fatalf("not associative:\n%+v\n%+v", l, rr)
		}
		if aa := Merge(a, a); !Equal(aa, a) {
			t.Fatalf("not idempotent: %+v vs %+v", aa, a)
		}
		m := Merge(a, b)
		if !Descends(m, a) || !Descends(m, b) {
			t.Fatal("merge does not descend its inputs")
		}
		if n, ok := normalize(m); !ok || !Equal(n, m) {
			t.Fatalf("a merge is not canonical: %+v", m)
		}
	}
}

// A write replaces what its node has seen, and only that: a concurrent
// write on another node survives as a sibling, and both replicas resolve
// the same winner.
func TestConcurrentWritesKeptAndResolvedAlike(t *testing.T) {
	var base Entry
	base = base.Write("a", 1, []byte("v1"), false)
	x := base.Write("a", 5, []byte("from-a"), false)
	y := base.Write("b", 7, []byte("from-b"), false)
	m1, m2 := Merge(x, y), Merge(y, x)
	if len(m1.Siblings) != 2 {
		t.Fatalf("concurrent writes: %d siblings, want 2", len(m1.Siblings))
	}
	v1, _ := m1.Resolve()
	v2, _ := m2.Resolve()
	if string(v1) != "from-b" || string(v2) != "from-b" {
		t.Fatalf("resolved %q and %q, want the later write from-b", v1, v2)
	}
	// A write after the merge replaces both.
	z := m1.Write("c", 2, []byte("after"), false)
	if v, _ := Merge(z, x).Resolve(); string(v) != "after" || len(Merge(z, y).Siblings) != 1 {
		t.Fatalf("a write that saw both siblings did not replace them: %+v", Merge(z, y))
	}
	// A delete resolves as absent, and a later write brings the key back.
	d := z.Write("a", 9, nil, true)
	if _, ok := d.Resolve(); ok {
		t.Fatal("a deleted entry resolves as present")
	}
	if v, ok := d.Write("b", 1, []byte("back"), false).Resolve(); !ok || string(v) != "back" {
		t.Fatal("a write after a delete is not visible")
	}
}

func TestNormalizeRefusesUncoveredSiblings(t *testing.T) {
	e := Entry{Clock: []Dot{{Node: "a", N: 1}}, Siblings: []Sibling{{Dot: Dot{Node: "a", N: 2}}}}
	if _, ok := normalize(e); ok {
		t.Fatal("a sibling the clock does not cover was accepted")
	}
	e = Entry{Clock: []Dot{{Node: "b", N: 2}, {Node: "a", N: 1}, {Node: "a", N: 3}}, Siblings: []Sibling{{Dot: Dot{Node: "a", N: 3}}}}
	n, ok := normalize(e)
	if !ok || len(n.Clock) != 2 || n.Clock[0] != (Dot{Node: "a", N: 3}) {
		t.Fatalf("normalize: %+v %v", n, ok)
	}
}

// A node that lost its storage writes again with a count it used before:
// two siblings share a dot with different contents. Every replica keeps
// the same one whatever the order of merges, so digests converge (a wiped
// node that rejoined used to differ from the cluster for ever).
func TestReusedDotConverges(t *testing.T) {
	var base Entry
	old := base.Write("c", 10, []byte("before the wipe"), false)
	cluster := Merge(old, base.Write("a", 11, []byte("from-a"), false))
	wiped := base.Write("c", 20, []byte("after the wipe"), false) // dot c:1 again
	m1, m2 := Merge(cluster, wiped), Merge(wiped, cluster)
	if !Equal(m1, m2) {
		t.Fatalf("merges differ:\n%+v\n%+v", m1, m2)
	}
	if !Equal(Merge(m1, old), m1) || !Equal(Merge(old, m1), m1) {
		t.Fatal("merging the old sibling again changes the state")
	}
	for _, s := range m1.Siblings {
		if s.Dot.Node == "c" && string(s.Value) != "after the wipe" {
			t.Fatalf("kept %q for dot c:1, want the later write", s.Value)
		}
	}
}

// With a Merger, concurrent live writes read as the merger's combination
// of them on every replica, whatever the merge order; a single value, or a
// delete among the siblings, resolves as without one.
func TestResolveWithMerger(t *testing.T) {
	longest := func(_ string, vs [][]byte) []byte { // commutative: the longest, ties by bytes
		best := vs[0]
		for _, v := range vs[1:] {
			if len(v) > len(best) || len(v) == len(best) && string(v) > string(best) {
				best = v
			}
		}
		return best
	}
	concat := func(_ string, vs [][]byte) []byte { // order-sensitive unless siblings come sorted
		var out []byte
		for _, v := range vs {
			out = append(out, v...)
		}
		return out
	}
	var base Entry
	base = base.Write("a", 1, []byte("v1"), false)
	x := base.Write("a", 9, []byte("from-a-longer"), false)
	y := base.Write("b", 7, []byte("from-b"), false)
	z := base.Write("c", 3, []byte("from-c"), false)
	m1, m2 := Merge(Merge(x, y), z), Merge(z, Merge(y, x))
	for _, m := range []Merger{longest, concat} {
		v1, ok1 := m1.ResolveWith("k", m)
		v2, ok2 := m2.ResolveWith("k", m)
		if !ok1 || !ok2 || string(v1) != string(v2) {
			t.Fatalf("replicas read %q and %q", v1, v2)
		}
	}
	if v, _ := m1.ResolveWith("k", longest); string(v) != "from-a-longer" {
		t.Fatalf("merged %q, want the merger's choice from-a-longer", v)
	}
	if v, _ := m1.Resolve(); string(v) != "from-a-longer" {
		t.Fatalf("without a merger: %q, want the latest write", v)
	}
	// Resolve's latest write is not the merger's choice here.
	if v, _ := Merge(base.Write("a", 1, []byte("a-long-value"), false), y).ResolveWith("k", func(string, [][]byte) []byte { return []byte("merged") }); string(v) != "merged" {
		t.Fatalf("the merger was not used: %q", v)
	}
	if v, _ := x.ResolveWith("k", func(string, [][]byte) []byte { return []byte("merged") }); string(v) != "from-a-longer" {
		t.Fatalf("one value went through the merger: %q", v)
	}
	d := Merge(x, base.Write("b", 8, nil, true))
	if v, ok := d.ResolveWith("k", longest); !ok || string(v) != "from-a-longer" {
		t.Fatalf("a delete among the siblings: %q %v, want Resolve's answer", v, ok)
	}
}
