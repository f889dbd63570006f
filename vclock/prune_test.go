package vclock_test

import (
	"slices"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

const now = int64(1_700_000_000)

// ages builds a clock of len(ages) entries; entry i has actor {ID: i+1} and
// timestamp now-ages[i].
func ages(as ...int64) vclock.VClock {
	out := make(vclock.VClock, len(as))
	for i, a := range as {
		out[i] = vclock.Entry{Actor: vclock.Actor{ID: uint64(i + 1)}, Counter: uint64(i%3 + 1), Timestamp: now - a}
	}
	return out
}

// repeat returns n copies of age.
func repeat(n int, age int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = age
	}
	return out
}

func ids(ns ...int) []uint64 {
	out := make([]uint64, len(ns))
	for i, n := range ns {
		out[i] = uint64(n)
	}
	return out
}

// idRange returns lo..hi inclusive.
func idRange(lo, hi int) []uint64 {
	var out []uint64
	for i := lo; i <= hi; i++ {
		out = append(out, uint64(i))
	}
	return out
}

func keptIDs(c vclock.VClock) []uint64 {
	out := make([]uint64, len(c))
	for i, e := range c {
		out[i] = e.Actor.ID
	}
	return out
}

func TestPrune(t *testing.T) {
	def := vclock.DefaultPruneProps()
	// Small < Big so the old_vclock rule can act between them.
	custom := vclock.PruneProps{Small: 5, Big: 10, Young: 20, Old: 100}

	tests := []struct {
		name  string
		props vclock.PruneProps
		clock vclock.VClock
		want  []uint64 // actor ids kept, in clock order
	}{
		{"defaults: empty", def, nil, nil},
		{"defaults: 50 ancient entries are never pruned", def,
			ages(repeat(50, 10*86400)...), idRange(1, 50)},
		{"defaults: 51 entries, all 30 s old, drop the oldest one", def,
			ages(append([]int64{31}, repeat(50, 30)...)...), idRange(2, 51)},
		{"defaults: 60 entries younger than 20 s are kept", def,
			ages(repeat(60, 19)...), idRange(1, 60)},
		{"defaults: 60 entries in the future are kept", def,
			ages(repeat(60, -1000)...), idRange(1, 60)},
		{"defaults: 60 entries exactly 20 s old are pruned", def,
			ages(repeat(60, 20)...), idRange(11, 60)},
		{"defaults: 60 entries 30 s old, ties broken by actor", def,
			ages(repeat(60, 30)...), idRange(11, 60)},
		{"defaults: 60 entries, oldest dropped first", def,
			// id i is 20+i s old: the highest ids are the oldest and go first.
			ages(func() []int64 {
				a := make([]int64, 60)
				for i := range a {
					a[i] = int64(21 + i)
				}
				return a
			}()...), idRange(1, 50)},
		{"defaults: stop as soon as the oldest left is young", def,
			// 5 entries 30 s old (ids 1..5), 55 entries 10 s old: the 5 go,
			// then the oldest remaining is younger than 20 s: 55 kept.
			ages(append(repeat(5, 30), repeat(55, 10)...)...), idRange(6, 60)},
		{"defaults: 60 entries a year old are pruned to 50, not below", def,
			ages(repeat(60, 365*86400)...), idRange(11, 60)},

		{"custom: ≤ small is never pruned even if ancient", custom,
			ages(repeat(5, 1_000_000)...), idRange(1, 5)},
		{"custom: between small and big, not old: kept", custom,
			ages(repeat(8, 100)...), idRange(1, 8)},
		{"custom: between small and big, old: dropped down to small", custom,
			ages(repeat(8, 101)...), idRange(4, 8)},
		{"custom: old entries dropped even below big", custom,
			// 3 old (ids 1..3), 5 not old: n=8 ≤ big, the 3 old go.
			ages(append(repeat(3, 200), repeat(5, 50)...)...), idRange(4, 8)},
		{"custom: old entries dropped but never below small", custom,
			// 7 old (ids 1..7), 1 not old: only 3 old ones go (8 → 5).
			ages(append(repeat(7, 200), 50)...), ids(4, 5, 6, 7, 8)},
		{"custom: old rule stops at the first not-old entry", custom,
			ages(200, 50, 200, 50, 50, 50, 50, 50), ids(2, 4, 5, 6, 7, 8)},
		{"custom: above big, drop to big even if not old", custom,
			ages(repeat(15, 30)...), idRange(6, 15)},
		{"custom: above big then old below big", custom,
			// 15 entries: 12 ancient (ids 1..12), 3 at 30 s. Pruning goes below
			// big because the head is old, but stops at small: ids 11..15.
			ages(append(repeat(12, 500), repeat(3, 30)...)...), idRange(11, 15)},
		{"custom: above big, young head stops pruning", custom,
			ages(append([]int64{30}, repeat(14, 5)...)...), idRange(2, 15)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.clock.Clone()
			got := vclock.Prune(tc.clock, now, tc.props)
			if !sameEntries(tc.clock, in) {
				t.Fatal("Prune modified its argument")
			}
			if k := keptIDs(got); !slices.Equal(k, tc.want) && !(len(k) == 0 && len(tc.want) == 0) {
				t.Fatalf("kept %v (%d entries), want %v (%d)", k, len(k), tc.want, len(tc.want))
			}
			if !got.Valid() {
				t.Fatalf("pruned clock is invalid: %v", got)
			}
			// Kept entries are untouched.
			for _, e := range got {
				i := slices.IndexFunc(tc.clock, func(x vclock.Entry) bool { return x.Actor == e.Actor })
				if i < 0 || tc.clock[i] != e {
					t.Fatalf("entry %+v changed by pruning", e)
				}
			}
		})
	}
}

func TestDefaultPruneProps(t *testing.T) {
	want := vclock.PruneProps{Small: 50, Big: 50, Young: 20, Old: 86400}
	if got := vclock.DefaultPruneProps(); got != want {
		t.Fatalf("DefaultPruneProps() = %+v, want %+v", got, want)
	}
}

// randPruneProps draws properties around the interesting region.
func randPruneProps(r interface {
	IntN(int) int
	Int64N(int64) int64
}) vclock.PruneProps {
	small := r.IntN(12)
	return vclock.PruneProps{Small: small, Big: small + r.IntN(12), Young: r.Int64N(60), Old: 60 + r.Int64N(200)}
}

func TestPruneProperties(t *testing.T) {
	r := newRand(t)
	actors := manyActors(30)
	for i := 0; i < propIters; i++ {
		a := randClock(r, actors, 3)
		// Timestamps spread over ages -10..300 s, with many ties.
		for j := range a {
			a[j].Timestamp = now - 10 + 10*r.Int64N(32)
		}
		b := randClock(r, actors, 3)
		if r.IntN(2) == 0 {
			b, _ = a.Increment(actors[r.IntN(len(actors))], now)
		}
		p := vclock.DefaultPruneProps()
		if r.IntN(4) != 0 {
			p = randPruneProps(r)
		}
		pa := vclock.Prune(a, now, p)

		if !pa.Valid() {
			t.Fatalf("Prune(%v) = %v is invalid", a, pa)
		}
		if !a.Descends(pa) {
			t.Fatalf("pruned clock %v has events the original %v lacks", pa, a)
		}
		if !a.Descends(b) && pa.Descends(b) {
			t.Fatalf("pruning made %v descend %v (original %v did not)", pa, b, a)
		}
		if len(a) <= p.Small && !sameEntries(pa, a) {
			t.Fatalf("clock of %d ≤ small %d entries was pruned", len(a), p.Small)
		}
		if len(pa) < len(a) && len(pa) < p.Small {
			t.Fatalf("pruned %d entries down to %d, below small %d", len(a), len(pa), p.Small)
		}
		// Idempotent: a pruned clock is stable.
		if ppa := vclock.Prune(pa, now, p); !sameEntries(ppa, pa) {
			t.Fatalf("Prune not idempotent: %v → %v → %v", a, pa, ppa)
		}
		// Every dropped entry is no younger than every kept one (oldest
		// first, ties by actor).
		kept := model(pa)
		for _, d := range a {
			if _, ok := kept[d.Actor]; ok {
				continue
			}
			for _, k := range pa {
				if k.Timestamp < d.Timestamp || (k.Timestamp == d.Timestamp && k.Actor.Less(d.Actor)) {
					t.Fatalf("dropped %+v but kept older %+v", d, k)
				}
			}
		}
		// Determinism: the same clock assembled in another order prunes
		// identically.
		perm := append([]vclock.Entry(nil), a...)
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		if again := vclock.Prune(vclock.Normalize(perm), now, p); !sameEntries(again, pa) {
			t.Fatalf("Prune not deterministic: %v vs %v", pa, again)
		}
	}
}

// With all timestamps tied, the actor order alone decides, whatever the
// actors' epochs and ids.
func TestPruneTieBreakByActor(t *testing.T) {
	var es []vclock.Entry
	for id := uint64(1); id <= 4; id++ {
		for ep := uint32(0); ep < 15; ep++ {
			es = append(es, vclock.Entry{Actor: vclock.Actor{ID: id * 1000, Epoch: ep}, Counter: 1, Timestamp: now - 100})
		}
	}
	c := vclock.Normalize(es)
	got := vclock.Prune(c, now, vclock.DefaultPruneProps())
	if len(got) != 50 {
		t.Fatalf("pruned to %d, want 50", len(got))
	}
	if !sameEntries(got, c[10:]) {
		t.Fatalf("tie break: kept %v, want the 50 largest actors %v", got, c[10:])
	}
}
