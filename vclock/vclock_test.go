package vclock_test

import (
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

const propIters = 2000

var (
	aX = vclock.Actor{ID: 0xA, Epoch: 1}
	aY = vclock.Actor{ID: 0xB, Epoch: 1}
	aZ = vclock.Actor{ID: 0xB, Epoch: 2}
)

func vc(es ...vclock.Entry) vclock.VClock { return vclock.Normalize(es) }

func e(a vclock.Actor, n uint64) vclock.Entry { return vclock.Entry{Actor: a, Counter: n} }

func TestDescendsTable(t *testing.T) {
	tests := []struct {
		name string
		a, b vclock.VClock
		want vclock.Ordering
	}{
		{"both empty", nil, nil, vclock.Equal},
		{"nil vs empty", nil, vclock.VClock{}, vclock.Equal},
		{"anything after empty", vc(e(aX, 1)), nil, vclock.After},
		{"empty before anything", nil, vc(e(aX, 1)), vclock.Before},
		{"same", vc(e(aX, 2), e(aY, 1)), vc(e(aX, 2), e(aY, 1)), vclock.Equal},
		{"higher counter", vc(e(aX, 3)), vc(e(aX, 2)), vclock.After},
		{"extra actor", vc(e(aX, 2), e(aY, 1)), vc(e(aX, 2)), vclock.After},
		{"disjoint", vc(e(aX, 1)), vc(e(aY, 1)), vclock.Concurrent},
		{"crossed", vc(e(aX, 2), e(aY, 1)), vc(e(aX, 1), e(aY, 2)), vclock.Concurrent},
		{"same actor id other epoch", vc(e(aY, 5)), vc(e(aZ, 1)), vclock.Concurrent},
		{"longer but missing actor", vc(e(aX, 9), e(aY, 9)), vc(e(aZ, 1)), vclock.Concurrent},
		{"timestamps ignored",
			vclock.VClock{{Actor: aX, Counter: 1, Timestamp: 5}},
			vclock.VClock{{Actor: aX, Counter: 1, Timestamp: 9}}, vclock.Equal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := vclock.Compare(tc.a, tc.b); got != tc.want {
				t.Fatalf("Compare(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got, want := tc.a.Dominates(tc.b), tc.want == vclock.After; got != want {
				t.Fatalf("Dominates = %v, want %v", got, want)
			}
			if got, want := tc.a.Equal(tc.b), tc.want == vclock.Equal; got != want {
				t.Fatalf("Equal = %v, want %v", got, want)
			}
		})
	}
}

func TestDescendsMatchesModel(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		a, b := genClock(r), genClock(r)
		if got, want := a.Descends(b), modelDescends(a, b); got != want {
			t.Fatalf("%v.Descends(%v) = %v, model says %v", a, b, got, want)
		}
	}
}

func TestDescendsReflexive(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		a := genClock(r)
		if !a.Descends(a) || !a.Descends(a.Clone()) {
			t.Fatalf("%v does not descend itself", a)
		}
		if a.Dominates(a) {
			t.Fatalf("%v dominates itself", a)
		}
		if !a.Descends(nil) {
			t.Fatalf("%v does not descend the empty clock", a)
		}
	}
}

func TestDescendsAntisymmetric(t *testing.T) {
	r := newRand(t)
	equal := 0
	for i := 0; i < propIters; i++ {
		a, b := genClock(r), genClock(r)
		if a.Descends(b) && b.Descends(a) {
			equal++
			if !a.Equal(b) || !b.Equal(a) {
				t.Fatalf("%v and %v descend each other but are not Equal", a, b)
			}
		}
		if a.Equal(b) && !(a.Descends(b) && b.Descends(a)) {
			t.Fatalf("%v Equal %v but they do not descend each other", a, b)
		}
	}
	if equal == 0 {
		t.Fatal("generator never produced two equal clocks; property untested")
	}
}

func TestDescendsTransitive(t *testing.T) {
	r := newRand(t)
	hits := 0
	for i := 0; i < propIters*5; i++ {
		a, b, c := genClock(r), genClock(r), genClock(r)
		if r.IntN(2) == 0 {
			// Bias towards chains: b ⊒ c and a ⊒ b, by merging.
			b = vclock.Merge(b, c)
			a = vclock.Merge(a, b)
			if r.IntN(3) == 0 {
				c = genClock(r) // and sometimes break the chain
			}
		}
		if a.Descends(b) && b.Descends(c) {
			hits++
			if !a.Descends(c) {
				t.Fatalf("%v ≥ %v ≥ %v but not %v ≥ %v", a, b, c, a, c)
			}
		}
	}
	if hits < propIters {
		t.Fatalf("only %d transitive chains generated", hits)
	}
}

func TestCompareConsistentWithDescends(t *testing.T) {
	r := newRand(t)
	seen := map[vclock.Ordering]int{}
	mirror := map[vclock.Ordering]vclock.Ordering{
		vclock.Equal: vclock.Equal, vclock.Before: vclock.After,
		vclock.After: vclock.Before, vclock.Concurrent: vclock.Concurrent,
	}
	for i := 0; i < propIters; i++ {
		a, b := genClock(r), genClock(r)
		o := vclock.Compare(a, b)
		seen[o]++
		ab, ba := a.Descends(b), b.Descends(a)
		var want vclock.Ordering
		switch {
		case ab && ba:
			want = vclock.Equal
		case ab:
			want = vclock.After
		case ba:
			want = vclock.Before
		default:
			want = vclock.Concurrent
		}
		if o != want {
			t.Fatalf("Compare(%v, %v) = %v, Descends says %v", a, b, o, want)
		}
		if back := vclock.Compare(b, a); back != mirror[o] {
			t.Fatalf("Compare(a,b) = %v but Compare(b,a) = %v", o, back)
		}
		if a.Dominates(b) != (o == vclock.After) || b.Dominates(a) != (o == vclock.Before) {
			t.Fatalf("Dominates disagrees with Compare=%v for %v, %v", o, a, b)
		}
	}
	for _, o := range []vclock.Ordering{vclock.Equal, vclock.Before, vclock.After, vclock.Concurrent} {
		if seen[o] == 0 {
			t.Errorf("generator never produced ordering %v", o)
		}
	}
}

func TestOrderingString(t *testing.T) {
	for o, s := range map[vclock.Ordering]string{
		vclock.Equal: "equal", vclock.Before: "before", vclock.After: "after", vclock.Concurrent: "concurrent",
	} {
		if o.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), s)
		}
	}
}

func TestMergeLaws(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		a, b, c := genClock(r), genClock(r), genClock(r)
		ac, bc, cc := a.Clone(), b.Clone(), c.Clone()

		ab, ba := vclock.Merge(a, b), vclock.Merge(b, a)
		if !sameEntries(ab, ba) {
			t.Fatalf("not commutative: %v ⊔ %v = %v, reversed %v", a, b, ab, ba)
		}
		l, rr := vclock.Merge(vclock.Merge(a, b), c), vclock.Merge(a, vclock.Merge(b, c))
		if !sameEntries(l, rr) || !sameEntries(l, vclock.Merge(a, b, c)) {
			t.Fatalf("not associative: (a⊔b)⊔c = %v, a⊔(b⊔c) = %v, ⊔(a,b,c) = %v", l, rr, vclock.Merge(a, b, c))
		}
		if aa := vclock.Merge(a, a); !sameEntries(aa, a) {
			t.Fatalf("not idempotent: %v ⊔ itself = %v", a, aa)
		}
		if !ab.Valid() {
			t.Fatalf("merge %v is not a valid clock", ab)
		}
		// Upper bound, and the least one: every counter is the max.
		if !ab.Descends(a) || !ab.Descends(b) {
			t.Fatalf("%v ⊔ %v = %v does not descend both", a, b, ab)
		}
		ma, mb := model(a), model(b)
		for _, x := range append(a.Actors(), b.Actors()...) {
			if got, want := ab.Get(x), max(ma[x], mb[x]); got != want {
				t.Fatalf("merge counter for %v = %d, want %d", x, got, want)
			}
		}
		if len(model(ab)) != len(ab) || len(ab) > len(a)+len(b) {
			t.Fatalf("merge %v has duplicate or foreign actors", ab)
		}
		for _, x := range ab.Actors() {
			if ma[x] == 0 && mb[x] == 0 {
				t.Fatalf("merge invented actor %v", x)
			}
		}
		if c.Descends(a) && c.Descends(b) && !c.Descends(ab) {
			t.Fatalf("%v is an upper bound of %v and %v but does not descend their merge %v", c, a, b, ab)
		}
		if !sameEntries(a, ac) || !sameEntries(b, bc) || !sameEntries(c, cc) {
			t.Fatal("Merge modified an argument")
		}
	}
}

func TestMergeTimestamps(t *testing.T) {
	a := vclock.VClock{{Actor: aX, Counter: 2, Timestamp: 10}, {Actor: aY, Counter: 1, Timestamp: 50}}
	b := vclock.VClock{{Actor: aX, Counter: 2, Timestamp: 30}, {Actor: aY, Counter: 2, Timestamp: 20}}
	want := vclock.VClock{{Actor: aX, Counter: 2, Timestamp: 30}, {Actor: aY, Counter: 2, Timestamp: 20}}
	for _, got := range []vclock.VClock{vclock.Merge(a, b), vclock.Merge(b, a)} {
		if !sameEntries(got, want) {
			t.Fatalf("Merge = %+v, want %+v (higher counter wins, then later timestamp)", got, want)
		}
	}
	if got := vclock.Merge(); got != nil {
		t.Fatalf("Merge() = %v, want nil", got)
	}
	one := vclock.Merge(a)
	if !sameEntries(one, a) {
		t.Fatalf("Merge(a) = %v", one)
	}
	one[0].Counter = 99
	if a[0].Counter != 2 {
		t.Fatal("Merge(a) shares memory with a")
	}
}

func TestIncrement(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		old := genClock(r)
		before := old.Clone()
		actors := testActors
		if r.IntN(3) == 0 {
			actors = manyActors(12)
		}
		// Sometimes an actor the clock has never seen.
		a := actors[r.IntN(len(actors))]
		if r.IntN(4) == 0 {
			a = vclock.Actor{ID: r.Uint64N(1<<20) + 1, Epoch: r.Uint32()}
		}
		ts := r.Int64N(1 << 40)
		next, dot := old.Increment(a, ts)

		if !sameEntries(old, before) {
			t.Fatalf("Increment modified its receiver: %v → %v", before, old)
		}
		if !next.Valid() {
			t.Fatalf("%v.Increment(%v) = %v is not valid", old, a, next)
		}
		if !next.Dominates(old) || vclock.Compare(next, old) != vclock.After {
			t.Fatalf("%v does not strictly dominate %v", next, old)
		}
		if dot.Actor != a || dot.Counter != old.Get(a)+1 || dot.IsZero() {
			t.Fatalf("dot %v, want %v@%d", dot, a, old.Get(a)+1)
		}
		if !next.Covers(dot) || old.Covers(dot) {
			t.Fatalf("dot %v: covered by new %v = %v, by old %v = %v", dot, next, next.Covers(dot), old, old.Covers(dot))
		}
		for _, x := range next.Actors() {
			if x != a && next.Get(x) != old.Get(x) {
				t.Fatalf("Increment(%v) changed actor %v", a, x)
			}
		}
		if len(next) != len(old) && len(next) != len(old)+1 {
			t.Fatalf("Increment changed the clock length from %d to %d", len(old), len(next))
		}
		for _, en := range next {
			if en.Actor == a && en.Timestamp != ts {
				t.Fatalf("Increment did not stamp %v with %d: %+v", a, ts, en)
			}
		}
	}
}

func TestIncrementFromEmpty(t *testing.T) {
	next, dot := vclock.VClock(nil).Increment(aX, 7)
	want := vclock.VClock{{Actor: aX, Counter: 1, Timestamp: 7}}
	if !sameEntries(next, want) || dot != (vclock.Dot{Actor: aX, Counter: 1}) {
		t.Fatalf("Increment on empty = %+v, %v", next, dot)
	}
}

func TestCoversAgreesWithGet(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		c := genClock(r)
		for _, a := range append(append([]vclock.Actor{}, testActors...), manyActors(12)...) {
			got := c.Get(a)
			if got != model(c)[a] {
				t.Fatalf("%v.Get(%v) = %d, model %d", c, a, got, model(c)[a])
			}
			for n := uint64(0); n <= 5; n++ {
				d := vclock.Dot{Actor: a, Counter: n}
				if c.Covers(d) != (got >= n) {
					t.Fatalf("%v.Covers(%v) = %v but Get = %d", c, d, c.Covers(d), got)
				}
			}
		}
		if !c.Covers(vclock.Dot{}) {
			t.Fatalf("%v does not cover the zero dot", c)
		}
	}
}

func TestValidAndNormalize(t *testing.T) {
	tests := []struct {
		name string
		c    vclock.VClock
		want bool
	}{
		{"nil", nil, true},
		{"one", vclock.VClock{{Actor: aX, Counter: 1}}, true},
		{"sorted", vclock.VClock{{Actor: aX, Counter: 1}, {Actor: aY, Counter: 3}, {Actor: aZ, Counter: 1}}, true},
		{"unsorted", vclock.VClock{{Actor: aY, Counter: 1}, {Actor: aX, Counter: 1}}, false},
		{"epoch order", vclock.VClock{{Actor: aZ, Counter: 1}, {Actor: aY, Counter: 1}}, false},
		{"duplicate", vclock.VClock{{Actor: aX, Counter: 1}, {Actor: aX, Counter: 2}}, false},
		{"zero counter", vclock.VClock{{Actor: aX, Counter: 0}}, false},
		{"zero actor", vclock.VClock{{Actor: vclock.Actor{}, Counter: 1}}, false},
	}
	for _, tc := range tests {
		if got := tc.c.Valid(); got != tc.want {
			t.Errorf("%s: Valid(%+v) = %v, want %v", tc.name, tc.c, got, tc.want)
		}
	}

	r := newRand(t)
	for i := 0; i < propIters; i++ {
		var es []vclock.Entry
		for j := r.IntN(8); j > 0; j-- {
			es = append(es, vclock.Entry{Actor: testActors[r.IntN(len(testActors))], Counter: r.Uint64N(4), Timestamp: r.Int64N(3)})
		}
		n := vclock.Normalize(es)
		if !n.Valid() {
			t.Fatalf("Normalize(%+v) = %+v is invalid", es, n)
		}
		want := map[vclock.Actor]uint64{}
		for _, x := range es {
			want[x.Actor] = max(want[x.Actor], x.Counter)
		}
		for a, c := range want {
			if n.Get(a) != c {
				t.Fatalf("Normalize(%+v): %v = %d, want %d", es, a, n.Get(a), c)
			}
		}
		// Order of the input does not matter, timestamps included.
		perm := append([]vclock.Entry(nil), es...)
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		if !sameEntries(n, vclock.Normalize(perm)) {
			t.Fatalf("Normalize depends on input order: %+v vs %+v", n, vclock.Normalize(perm))
		}
	}
}

func TestCloneIsIndependent(t *testing.T) {
	a := vc(e(aX, 1), e(aY, 2))
	b := a.Clone()
	b[0].Counter = 42
	if a[0].Counter != 1 {
		t.Fatal("Clone shares memory")
	}
	if vclock.VClock(nil).Clone() != nil {
		t.Fatal("Clone(nil) != nil")
	}
}

func TestStrings(t *testing.T) {
	a := vclock.Actor{ID: 0x9f, Epoch: 3}
	if got, want := a.String(), "000000000000009f:3"; got != want {
		t.Errorf("Actor.String() = %q, want %q", got, want)
	}
	if got, want := (vclock.Dot{Actor: a, Counter: 4}).String(), "000000000000009f:3@4"; got != want {
		t.Errorf("Dot.String() = %q, want %q", got, want)
	}
	if got := (vclock.Dot{}).String(); got != "-" {
		t.Errorf("zero Dot.String() = %q", got)
	}
	if got, want := vc(e(a, 2)).String(), "[000000000000009f:3=2]"; got != want {
		t.Errorf("VClock.String() = %q, want %q", got, want)
	}
	if got := vclock.VClock(nil).String(); got != "[]" {
		t.Errorf("empty VClock.String() = %q", got)
	}
}

// A lookup on a long clock (binary search) agrees with a short one (scan).
func TestGetLongClock(t *testing.T) {
	r := newRand(t)
	actors := manyActors(40)
	for i := 0; i < 200; i++ {
		c := randClock(r, actors, 5)
		m := model(c)
		for _, a := range actors {
			if c.Get(a) != m[a] {
				t.Fatalf("Get(%v) = %d, want %d in %v", a, c.Get(a), m[a], c)
			}
		}
		if c.Get(vclock.Actor{ID: 1 << 60}) != 0 {
			t.Fatal("Get of absent actor past the end != 0")
		}
	}
}
