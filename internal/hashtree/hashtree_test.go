package hashtree

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// A tree kept up to date through updates equals the tree built from the
// final contents, whatever the order of the updates.
func TestIncrementalEqualsBuild(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	var live Tree
	state := map[string]uint64{}
	for range 20000 {
		k := fmt.Sprintf("k%d", r.IntN(2000))
		old, had := state[k]
		if r.IntN(4) == 0 {
			live.Update([]byte(k), old, had, 0, false)
			delete(state, k)
			continue
		}
		nv := r.Uint64()
		live.Update([]byte(k), old, had, nv, true)
		state[k] = nv
	}
	var built Tree
	for k, h := range state {
		built.Insert([]byte(k), h)
	}
	if d := DiffSegments(live.Segments(), built.Segments()); len(d) != 0 {
		t.Fatalf("incremental and built trees differ in %d segments", len(d))
	}
	if Root(live.Segments()) != Root(built.Segments()) {
		t.Fatal("roots differ")
	}
}

// Differences show in exactly the segments of the keys that differ, and
// DiffKeys names those keys.
func TestDiffFindsTheKeys(t *testing.T) {
	var a, b Tree
	var la, lb []KeyHashPair
	for i := range 5000 {
		k := []byte(fmt.Sprintf("key-%d", i))
		h := uint64(i) * 7
		a.Insert(k, h)
		la = append(la, KeyHashPair{k, h})
		switch {
		case i == 17: // missing on b
		case i == 99: // different on b
			b.Insert(k, h+1)
			lb = append(lb, KeyHashPair{k, h + 1})
		default:
			b.Insert(k, h)
			lb = append(lb, KeyHashPair{k, h})
		}
	}
	lb = append(lb, KeyHashPair{[]byte("only-b"), 5})
	b.Insert([]byte("only-b"), 5)
	segs := DiffSegments(a.Segments(), b.Segments())
	want := map[int]bool{Segment([]byte("key-17")): true, Segment([]byte("key-99")): true, Segment([]byte("only-b")): true}
	if len(segs) != len(want) {
		t.Fatalf("differing segments %v, want %v", segs, want)
	}
	for _, s := range segs {
		if !want[s] {
			t.Errorf("segment %d reported", s)
		}
	}
	keys := DiffKeys(la, lb)
	if got := fmt.Sprintf("%s", keys); got != "[key-17 key-99 only-b]" {
		t.Fatalf("DiffKeys = %s", got)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	var a Tree
	for i := range 100 {
		a.Insert([]byte(fmt.Sprint(i)), uint64(i))
	}
	b, _ := a.MarshalBinary()
	var c Tree
	if err := c.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(DiffSegments(a.Segments(), c.Segments())) != 0 {
		t.Fatal("round trip changed the tree")
	}
	for _, bad := range [][]byte{nil, {1}, b[:len(b)-1], append([]byte{2}, b[1:]...)} {
		if err := c.UnmarshalBinary(bad); err == nil {
			t.Errorf("decoded %d bytes", len(bad))
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	var t Tree
	k := []byte("bucket/some-key-000123")
	for i := range b.N {
		t.Update(k, uint64(i), true, uint64(i+1), true)
	}
}
