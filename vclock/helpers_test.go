package vclock_test

import (
	"flag"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/riakgo/riakgo/vclock"
)

// seedFlag replays a failing property run: go test -run X -seed N ./vclock/
var seedFlag = flag.Uint64("seed", 0, "base seed for property tests (0 picks one from the time)")

var baseSeed = func() uint64 { return uint64(time.Now().UnixNano()) }()

// newRand returns a seeded generator for t and logs the seed so that a
// failure can be replayed with -seed.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = baseSeed
	}
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// testActors are the actors random clocks are drawn from. Few actors make
// every ordering (equal, before, after, concurrent) common.
var testActors = []vclock.Actor{
	{ID: 1, Epoch: 1},
	{ID: 1, Epoch: 2},
	{ID: 2, Epoch: 1},
	{ID: 0xffff_ffff_ffff_fff0, Epoch: 0},
}

// manyActors exercise the binary-search path of clocks longer than 8.
func manyActors(n int) []vclock.Actor {
	out := make([]vclock.Actor, n)
	for i := range out {
		out[i] = vclock.Actor{ID: uint64(i/3 + 1), Epoch: uint32(i % 3)}
	}
	return out
}

// randClock draws a valid clock over actors: each actor is absent or has a
// counter in 1..maxCounter, with a timestamp in a narrow range so that equal
// counters with different timestamps occur.
func randClock(r *rand.Rand, actors []vclock.Actor, maxCounter uint64) vclock.VClock {
	var es []vclock.Entry
	for _, a := range actors {
		c := r.Uint64N(maxCounter + 1)
		if c == 0 {
			continue
		}
		es = append(es, vclock.Entry{Actor: a, Counter: c, Timestamp: 1_700_000_000 + r.Int64N(4)})
	}
	return vclock.Normalize(es)
}

// genClock draws from a mix of small and large actor sets.
func genClock(r *rand.Rand) vclock.VClock {
	if r.IntN(5) == 0 {
		return randClock(r, manyActors(12), 3)
	}
	return randClock(r, testActors, 3)
}

// model is the map form of a clock: actor → counter.
func model(vc vclock.VClock) map[vclock.Actor]uint64 {
	m := make(map[vclock.Actor]uint64, len(vc))
	for _, e := range vc {
		m[e.Actor] = e.Counter
	}
	return m
}

// modelDescends is the textbook definition of a ≥ b.
func modelDescends(a, b vclock.VClock) bool {
	ma := model(a)
	for _, e := range b {
		if ma[e.Actor] < e.Counter {
			return false
		}
	}
	return true
}

// sameEntries compares clocks entry by entry, timestamps included, treating
// nil and empty as the same clock.
func sameEntries(a, b vclock.VClock) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}
