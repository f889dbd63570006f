package dt

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randomElements(r *rand.Rand, n int) []string {
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		x := fmt.Sprintf("%x", r.Uint64())
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// TestHLLAccuracy: at precision 14 the standard error is 1.04/√16384 ≈
// 0.81 %; the bound of 3.5 % is more than 4 standard errors.
func TestHLLAccuracy(t *testing.T) {
	r := newRand(t)
	for _, n := range []int{10, 100, 1_000, 10_000, 40_000, 100_000} {
		h := &HLL{}
		els := randomElements(r, n)
		for i := 0; i < len(els); i += 1000 {
			mustApply(t, h, HLLOp{Elements: els[i:min(i+1000, len(els))]}, aA, Context{})
		}
		mustApply(t, h, HLLOp{Elements: els[:n/2]}, aA, Context{}) // duplicates change nothing
		est := float64(h.Cardinality())
		errPct := math.Abs(est-float64(n)) / float64(n) * 100
		t.Logf("n=%d estimate=%.0f error=%.2f%%", n, est, errPct)
		bound := 3.5
		if n <= 1000 {
			bound = 2 // linear-counting range: nearly exact
		}
		if errPct > bound {
			t.Errorf("n=%d: estimate %.0f is off by %.2f%% (bound %.1f%%)", n, est, errPct, bound)
		}
		if h.Value() != h.Cardinality() {
			t.Fatal("Value differs from Cardinality")
		}
	}
}

func TestHLLSmallAndEmpty(t *testing.T) {
	h := &HLL{}
	wantValue(t, h, uint64(0))
	if h.Precision() != DefaultHLLPrecision {
		t.Fatal("zero HLL precision")
	}
	mustApply(t, h, HLLOp{Elements: []string{"a", "b", "c", "a"}}, aA, Context{})
	wantValue(t, h, uint64(3))
	roundTrip(t, h)
	for _, p := range []int{3, 17, 0, -1} {
		if _, err := NewHLL(p); !errors.Is(err, ErrInvalidOp) {
			t.Fatalf("precision %d: %v", p, err)
		}
	}
}

// TestHLLFold: lowering the precision gives exactly the sketch made by
// adding the same elements at the lower precision, and merging sketches of
// different precisions folds to the lower one (commutatively).
func TestHLLFold(t *testing.T) {
	r := newRand(t)
	els := randomElements(r, 5000)
	for from := MinHLLPrecision; from <= MaxHLLPrecision; from++ {
		for to := MinHLLPrecision; to <= from; to++ {
			hi, _ := NewHLL(from)
			lo, _ := NewHLL(to)
			_ = hi.Apply(HLLOp{Elements: els})
			_ = lo.Apply(HLLOp{Elements: els})
			folded := hi.Clone().(*HLL)
			if err := folded.Reduce(to); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, fmt.Sprintf("fold %d→%d", from, to), folded, lo)
			// Mixed-precision merge: half the elements each side.
			x, _ := NewHLL(from)
			y, _ := NewHLL(to)
			_ = x.Apply(HLLOp{Elements: els[:2500]})
			_ = y.Apply(HLLOp{Elements: els[2500:]})
			sameBytes(t, fmt.Sprintf("merge %d with %d", from, to), merged(t, x, y), lo)
			sameBytes(t, fmt.Sprintf("merge %d with %d", to, from), merged(t, y, x), lo)
		}
	}
	h, _ := NewHLL(10)
	if err := h.Reduce(11); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("raising precision: %v", err)
	}
	if err := h.Reduce(3); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("precision 3: %v", err)
	}
	// Empty sketches fold and merge too.
	e := &HLL{}
	if err := e.Reduce(4); err != nil || e.Precision() != 4 {
		t.Fatal(err)
	}
	mustMerge(t, e, &HLL{})
	wantValue(t, e, uint64(0))
	roundTrip(t, e)
}

// TestHLLEncodingForms: small sketches encode sparse, full ones dense, and
// both round-trip.
func TestHLLEncodingForms(t *testing.T) {
	r := newRand(t)
	h, _ := NewHLL(12)
	_ = h.Apply(HLLOp{Elements: randomElements(r, 20)})
	b := enc(t, h)
	if b[3] != hllSparse || len(b) > 100 {
		t.Fatalf("20 elements: form %d, %d bytes", b[3], len(b))
	}
	roundTrip(t, h)
	_ = h.Apply(HLLOp{Elements: randomElements(r, 20000)})
	b = enc(t, h)
	if b[3] != hllDense || len(b) != 4+4096 {
		t.Fatalf("20000 elements: form %d, %d bytes", b[3], len(b))
	}
	roundTrip(t, h)
}

func BenchmarkHLLAdd(b *testing.B) {
	h := &HLL{}
	els := randomElements(rand.New(rand.NewPCG(1, 2)), 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.Apply(HLLOp{Elements: els[i%1024 : i%1024+1]})
	}
}
