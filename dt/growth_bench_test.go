package dt

import (
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// churnSameElement runs cycles add/remove cycles of one element "x" over
// three replicas, each with its own actor: replica k adds x with the
// context of its own read, another replica merges that state and removes x
// with the context read after the add; every few cycles the replicas
// exchange state in a rotating pattern, and every 50 cycles all of them.
// It returns the replicas and the largest encoding seen.
func churnSameElement(tb testing.TB, cycles int) ([]*Set, int) {
	actors := []vclock.Actor{{ID: 1, Epoch: 1}, {ID: 2, Epoch: 1}, {ID: 3, Epoch: 1}}
	reps := []*Set{{}, {}, {}}
	maxSize := 0
	for i := range cycles {
		k := i % 3
		mustApply(tb, reps[k], add("x"), actors[k], reps[k].Context())
		read := reps[k].Context()
		j := (k + 1 + i/3%2) % 3
		mustMerge(tb, reps[j], reps[k])
		if err := reps[j].Apply(remove("x"), actors[j], read); err != nil {
			tb.Fatalf("cycle %d: %v", i, err)
		}
		switch {
		case i%50 == 49:
			for _, a := range reps {
				for _, b := range reps {
					mustMerge(tb, a, b)
				}
			}
		case i%7 == 6:
			mustMerge(tb, reps[(i/7)%3], reps[(i/7+2)%3])
		}
		if i%10 == 0 || i == cycles-1 {
			for _, s := range reps {
				maxSize = max(maxSize, len(enc(tb, s)))
			}
		}
	}
	return reps, maxSize
}

// TestSetChurnSameElementBounded is the size bound of issue's set-growth
// requirement: after 100,000 add/remove cycles of the same element from
// three actors, with contexts and merges between replicas, the encoded set
// is under 1 KiB (in fact about 20 bytes: three actors and their counters,
// no tombstones), and never exceeded it along the way.
func TestSetChurnSameElementBounded(t *testing.T) {
	const cycles = 100_000
	reps, maxSize := churnSameElement(t, cycles)
	for _, a := range reps {
		for _, b := range reps {
			mustMerge(t, a, b)
		}
	}
	size := len(enc(t, reps[0]))
	t.Logf("after %d add/remove cycles of one element from 3 actors: %d bytes (largest seen during the run %d bytes); clock %v",
		cycles, size, maxSize, reps[0].Context())
	for k, s := range reps {
		sameBytes(t, fmt.Sprint("replica ", k), s, reps[0])
	}
	if reps[0].Len() != 0 || size >= 1024 || maxSize >= 1024 {
		t.Fatalf("%d elements, %d bytes, largest %d bytes (bound 1024)", reps[0].Len(), size, maxSize)
	}
	if size > emptiedBound {
		t.Fatalf("%d bytes, more than the %d-byte bound of an emptied set", size, emptiedBound)
	}
}

var setSizes = []struct {
	name string
	n    int
}{{"1k", 1_000}, {"10k", 10_000}, {"100k", 100_000}}

var benchActors = []vclock.Actor{{ID: 1, Epoch: 1}, {ID: 2, Epoch: 1}, {ID: 3, Epoch: 1}}

// benchSet returns a set of n elements "e0000000"… added round-robin by
// three actors, and names for extra elements not in it.
func benchSet(b *testing.B, n, extra int) (*Set, []string) {
	s := &Set{}
	for i := range n {
		mustApply(b, s, add(fmt.Sprintf("e%07d", i)), benchActors[i%3], Context{})
	}
	names := make([]string, extra)
	for i := range names {
		names[i] = fmt.Sprintf("n%07d", i)
	}
	return s, names
}

// BenchmarkSetAdd: one add of a new element (with the context of a read, as
// clients send) to a set of about n elements held in memory. The set grows
// by b.N elements during the run.
func BenchmarkSetAdd(b *testing.B) {
	for _, sz := range setSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, names := benchSet(b, sz.n, b.N)
			ctx := s.Context()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.Apply(add(names[i]), benchActors[i%3], ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSetRemove: one context remove of an element present in a set of
// about n elements (n + b.N before the run, n after it).
func BenchmarkSetRemove(b *testing.B) {
	for _, sz := range setSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, names := benchSet(b, sz.n, b.N)
			for i, x := range names {
				mustApply(b, s, add(x), benchActors[i%3], Context{})
			}
			ctx := s.Context()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.Apply(remove(names[i]), benchActors[i%3], ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSetAddStored and BenchmarkSetRemoveStored measure what a vnode
// does per data-type write today: decode the stored value, apply, encode.
// The encoding dominates and is linear in the set's size.
func BenchmarkSetAddStored(b *testing.B) {
	for _, sz := range setSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, names := benchSet(b, sz.n, b.N)
			ctx := s.Context()
			stored := enc(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				stored = storedApply(b, stored, add(names[i]), benchActors[i%3], ctx)
			}
			b.ReportMetric(float64(len(stored)), "bytes/value")
		})
	}
}

func BenchmarkSetRemoveStored(b *testing.B) {
	for _, sz := range setSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, names := benchSet(b, sz.n, b.N)
			for i, x := range names {
				mustApply(b, s, add(x), benchActors[i%3], Context{})
			}
			ctx := s.Context()
			stored := enc(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				stored = storedApply(b, stored, remove(names[i]), benchActors[i%3], ctx)
			}
			b.ReportMetric(float64(len(stored)), "bytes/value")
		})
	}
}

func storedApply(b *testing.B, stored []byte, op SetOp, a vclock.Actor, ctx Context) []byte {
	v := &Set{}
	if err := v.UnmarshalBinary(stored); err != nil {
		b.Fatal(err)
	}
	if err := v.Apply(op, a, ctx); err != nil {
		b.Fatal(err)
	}
	out, err := v.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkSetChurn: one add/remove cycle of the same element between
// replicas (as in TestSetChurnSameElementBounded), including the merges;
// bytes/value is the largest encoding seen.
func BenchmarkSetChurn(b *testing.B) {
	b.ReportAllocs()
	_, maxSize := churnSameElement(b, b.N)
	b.ReportMetric(float64(maxSize), "bytes/value")
}

// BenchmarkOpLogApplyStored and BenchmarkBCounterDecrementStored are the
// vnode path (decode, apply, encode) for the balance types, with three
// actors and a full audit trail.
func BenchmarkOpLogApplyStored(b *testing.B) {
	l := &OpLog{}
	for i := range 1000 {
		if _, err := l.Apply(OpLogOp{Amount: 10, Note: "deposit"}, benchActors[i%3]); err != nil {
			b.Fatal(err)
		}
	}
	stored := enc(b, l)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v := &OpLog{}
		if err := v.UnmarshalBinary(stored); err != nil {
			b.Fatal(err)
		}
		if _, err := v.Apply(OpLogOp{Amount: -1, Note: "withdrawal"}, benchActors[i%3]); err != nil {
			b.Fatal(err)
		}
		stored = enc(b, v)
	}
	b.ReportMetric(float64(len(stored)), "bytes/value")
}

func BenchmarkBCounterDecrementStored(b *testing.B) {
	c := &BCounter{}
	for _, a := range benchActors {
		mustApply(b, c, BCounterOp{Delta: 1 << 40}, a, Context{})
	}
	mustApply(b, c, BTransferOp{To: benchActors[1], Amount: 100}, benchActors[0], Context{})
	stored := enc(b, c)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v := &BCounter{}
		if err := v.UnmarshalBinary(stored); err != nil {
			b.Fatal(err)
		}
		if err := v.Apply(BCounterOp{Delta: -1}, benchActors[i%3]); err != nil {
			b.Fatal(err)
		}
		stored = enc(b, v)
	}
	b.ReportMetric(float64(len(stored)), "bytes/value")
}
