package bench

import (
	"math/rand/v2"
	"testing"
)

func TestUniformKeyGenBounds(t *testing.T) {
	for _, keys := range []int{1, 2, 10, 1000} {
		g := newKeyGen(KeyGenUniform, keys, rand.New(rand.NewPCG(1, 2)))
		seen := make(map[int64]bool)
		for range 20000 {
			k := g.next()
			if k < 1 || k > int64(keys) {
				t.Fatalf("keys=%d: key %d out of [1, %d]", keys, k, keys)
			}
			seen[k] = true
		}
		if keys <= 1000 && len(seen) != keys {
			t.Errorf("keys=%d: only %d distinct keys drawn", keys, len(seen))
		}
	}
}

func TestParetoKeyGen(t *testing.T) {
	for _, keys := range []int{1, 2, 5, 100, 100000} {
		g := newKeyGen(KeyGenPareto, keys, rand.New(rand.NewPCG(42, 7)))
		for range 20000 {
			if k := g.next(); k < 1 || k > int64(keys) {
				t.Fatalf("keys=%d: key %d out of [1, %d]", keys, k, keys)
			}
		}
	}

	// Skew: the analytic share of the lowest decile is ~65%; of the
	// highest decile excluding the truncation key ~0.4%; of the truncation
	// key itself ~2.7%. Assert loose bounds on a seeded sample.
	const keys, n = 100000, 200000
	g := newKeyGen(KeyGenPareto, keys, rand.New(rand.NewPCG(42, 7)))
	var low, high, top int
	for range n {
		k := g.next()
		switch {
		case k <= keys/10:
			low++
		case k == keys:
			top++
		case k > keys-keys/10:
			high++
		}
	}
	if low < n/2 {
		t.Errorf("lowest decile drew %d of %d keys, want more than half", low, n)
	}
	if high == 0 || low < 20*high {
		t.Errorf("lowest decile drew %d keys, highest %d: want a ratio of at least 20", low, high)
	}
	if top < n/100 || top > n/20 {
		t.Errorf("truncation key drew %d of %d, want 1%%..5%%", top, n)
	}
}

func TestKeyGenDeterministic(t *testing.T) {
	a := newKeyGen(KeyGenPareto, 1000, rand.New(rand.NewPCG(5, 1)))
	b := newKeyGen(KeyGenPareto, 1000, rand.New(rand.NewPCG(5, 1)))
	for range 1000 {
		if x, y := a.next(), b.next(); x != y {
			t.Fatalf("same seed gave %d and %d", x, y)
		}
	}
}
