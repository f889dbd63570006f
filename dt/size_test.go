package dt

import (
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// The size bound for a value whose elements were all removed, with three
// actors of one-byte ids and counters below 2^21 (three-byte varints):
//
//	tag + version                              2
//	actor-table count                          1
//	3 actors × (id 1 B + epoch 1 B)            6
//	3 clock counters × ≤ 3 B                   9
//	element (or field) count                   1
//	deferred count                             1
//	                                          --
//	                                          20 bytes
//
// Removed elements leave nothing: no tombstones, no dots.
const emptiedBound = 20

// TestSetSizeBoundedWithoutTombstones: 10,000 add/remove cycles of distinct
// elements across three replicas (merging every 10 cycles, removes with the
// context of a read) leave the encoded set at ≤ 20 bytes, where riak_dt's
// classic OR-Set would hold 10,000 tokens (≈ 210 KB by the reference's
// estimate).
func TestSetSizeBoundedWithoutTombstones(t *testing.T) {
	actors := []vclock.Actor{{ID: 1, Epoch: 1}, {ID: 2, Epoch: 1}, {ID: 3, Epoch: 1}}
	reps := []*Set{{}, {}, {}}
	maxSize := 0
	for i := range 10_000 {
		k := i % 3
		x := fmt.Sprint("element-", i)
		mustApply(t, reps[k], add(x), actors[k], Context{})
		read := reps[k].Context()
		j := (k + 1) % 3
		mustMerge(t, reps[j], reps[k])
		mustApply(t, reps[j], remove(x), actors[j], read) // removed at another replica
		if i%10 == 9 {
			for a := range reps {
				for b := range reps {
					mustMerge(t, reps[a], reps[b])
				}
			}
		}
		for _, s := range reps {
			maxSize = max(maxSize, len(enc(t, s)))
		}
	}
	for _, s := range reps {
		for _, o := range reps {
			mustMerge(t, s, o)
		}
	}
	for k, s := range reps {
		size := len(enc(t, s))
		if s.Len() != 0 || size > emptiedBound {
			t.Fatalf("replica %d: %d elements, %d bytes (bound %d)", k, s.Len(), size, emptiedBound)
		}
	}
	t.Logf("final size %d bytes, largest during the run %d bytes", len(enc(t, reps[0])), maxSize)
	// Along the way a replica never held more than the few live elements of
	// the last ten cycles: 10 × (≤ 22 bytes of name and dot) + the header.
	if maxSize > 20+10*22 {
		t.Fatalf("size reached %d bytes during the run", maxSize)
	}
}

// TestMapSizeBoundedWithoutTombstones does the same for map fields: 10,000
// cycles each create a distinct field (a counter, a set and a nested map
// in turn) and remove it again with a context.
func TestMapSizeBoundedWithoutTombstones(t *testing.T) {
	actors := []vclock.Actor{{ID: 1, Epoch: 1}, {ID: 2, Epoch: 1}, {ID: 3, Epoch: 1}}
	reps := []*Map{{}, {}, {}}
	for i := range 10_000 {
		k := i % 3
		name := fmt.Sprint("field-", i)
		var op MapOp
		var f Field
		switch i % 3 {
		case 0:
			f = Field{Name: name, Type: KindCounter}
			op = upd(f, CounterOp{Delta: 3})
		case 1:
			f = Field{Name: name, Type: KindSet}
			op = upd(f, add("x", "y"))
		default:
			f = Field{Name: name, Type: KindMap}
			op = upd(f, upd(fReg, RegisterOp{Value: "v", Timestamp: int64(i + 1)}).Update(fFlag, FlagOp{Enable: true}))
		}
		mustApply(t, reps[k], op, actors[k], Context{})
		read := reps[k].Context()
		j := (k + 1) % 3
		mustMerge(t, reps[j], reps[k])
		mustApply(t, reps[j], rm(f), actors[j], read)
		if i%10 == 9 {
			for a := range reps {
				for b := range reps {
					mustMerge(t, reps[a], reps[b])
				}
			}
		}
	}
	for _, m := range reps {
		for _, o := range reps {
			mustMerge(t, m, o)
		}
	}
	for k, m := range reps {
		if size := len(enc(t, m)); m.Len() != 0 || size > emptiedBound {
			t.Fatalf("replica %d: %d fields, %d bytes (bound %d)", k, m.Len(), size, emptiedBound)
		}
	}
}

// TestSetSizeWithLiveElements: the size is O(actors + live elements): a set
// holding 1,000 live elements after 10,000 cycles is no bigger than one
// that only ever saw those 1,000 adds, give or take the clock's varints.
func TestSetSizeWithLiveElements(t *testing.T) {
	churned, fresh := &Set{}, &Set{}
	for i := range 10_000 {
		x := fmt.Sprintf("e%05d", i)
		mustApply(t, churned, add(x), aA, Context{})
		if i%10 != 0 {
			mustApply(t, churned, remove(x), aA, churned.Context())
		} else {
			mustApply(t, fresh, add(x), aA, Context{})
		}
	}
	a, b := len(enc(t, churned)), len(enc(t, fresh))
	t.Logf("churned %d bytes, fresh %d bytes", a, b)
	// Each live element's dot counter is ≤ 2 bytes larger in the churned set.
	if churned.Len() != 1000 || a > b+2*1000 {
		t.Fatalf("churned set %d bytes vs %d", a, b)
	}
}
