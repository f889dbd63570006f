package bench

import (
	"math"
	"math/rand/v2"
)

// paretoShape is basho_bench's ?PARETO_SHAPE.
const paretoShape = 1.5

// keyGen draws keys in 1..max. It is not safe for concurrent use; each worker
// owns one.
type keyGen struct {
	rng    *rand.Rand
	max    int64
	pareto bool
	s1, s2 float64 // pareto: exponent -1/shape and scale mean*(shape-1)
}

// newKeyGen returns a generator of the named distribution (KeyGenPareto or
// KeyGenUniform) over 1..keys drawing from rng.
func newKeyGen(kind string, keys int, rng *rand.Rand) *keyGen {
	g := &keyGen{rng: rng, max: int64(keys), pareto: kind == KeyGenPareto}
	if g.pareto {
		// basho_bench: pareto(trunc(MaxKey * 0.2), ?PARETO_SHAPE).
		mean := math.Trunc(float64(keys) * 0.2)
		g.s1 = -1 / paretoShape
		g.s2 = mean * (paretoShape - 1)
	}
	return g
}

// next returns the next key.
//
// The Pareto variant follows basho_bench's truncated_pareto_int:
// U = 1-rand, x = trunc((U^(-1/shape) - 1) * mean*(shape-1)), key =
// min(MaxKey, x). basho_bench's x starts at 0; here it is shifted by one so
// both generators cover exactly 1..Keys. The truncation piles the tail
// (about 2.7% of draws) onto the highest key, as basho_bench does.
func (g *keyGen) next() int64 {
	if !g.pareto {
		return 1 + g.rng.Int64N(g.max)
	}
	u := 1 - g.rng.Float64() // (0, 1]
	x := math.Trunc((math.Pow(u, g.s1) - 1) * g.s2)
	if x+1 >= float64(g.max) { // also avoids overflow converting huge x
		return g.max
	}
	return int64(x) + 1
}
