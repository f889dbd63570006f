package dt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// Replicas of the harness never transfer to one another (genOp cannot
// know the applying actor, and a transfer to oneself is invalid): they
// transfer to rights holders that never act, like a data centre that is
// down. TestBCounterNeverNegative covers transfers between active replicas.
var sinks = []vclock.Actor{{ID: 0xfeed_0001, Epoch: 1}, {ID: 0xfeed_0002, Epoch: 2}}

func genBCounterOp(r *rand.Rand) Op {
	switch x := r.IntN(20); {
	case x < 9:
		if r.IntN(20) == 0 {
			return BCounterOp{Delta: 1 + r.Int64N(1<<40)}
		}
		return BCounterOp{Delta: 1 + r.Int64N(10)}
	case x < 17:
		return BCounterOp{Delta: -1 - r.Int64N(12)}
	default:
		return BTransferOp{To: sinks[r.IntN(len(sinks))], Amount: 1 + r.Uint64N(6)}
	}
}

// bcModel knows events; a decrement or transfer must fail exactly when the
// events known at the applying replica leave its actor too few rights.
type bcEvent struct {
	kind      byte // 'i'ncrement, 'd'ecrement, 't'ransfer
	actor, to vclock.Actor
	n         uint64
}

type bcModel struct {
	ids *int
	ev  map[int]bcEvent
}

func (m *bcModel) clone() model {
	c := &bcModel{ids: m.ids, ev: make(map[int]bcEvent, len(m.ev))}
	for k, v := range m.ev {
		c.ev[k] = v
	}
	return c
}

func (m *bcModel) merge(o model) {
	for k, v := range o.(*bcModel).ev {
		m.ev[k] = v
	}
}

func (m *bcModel) rights(a vclock.Actor) int64 {
	var s int64
	for _, e := range m.ev {
		switch {
		case e.kind == 'i' && e.actor == a, e.kind == 't' && e.to == a:
			s += int64(e.n)
		case e.actor == a:
			s -= int64(e.n)
		}
	}
	return s
}

func (m *bcModel) value() any {
	var s int64
	for _, e := range m.ev {
		switch e.kind {
		case 'i':
			s += int64(e.n)
		case 'd':
			s -= int64(e.n)
		}
	}
	return s
}

func (m *bcModel) apply(op Op, a vclock.Actor, _ model) bool {
	e := bcEvent{actor: a}
	switch o := op.(type) {
	case BCounterOp:
		if o.Delta == 0 {
			return false
		}
		e.kind, e.n = 'i', uint64(o.Delta)
		if o.Delta < 0 {
			e.kind, e.n = 'd', uint64(-o.Delta)
		}
	case BTransferOp:
		e.kind, e.n, e.to = 't', o.Amount, o.To
	}
	if e.kind != 'i' && m.rights(a) < int64(e.n) {
		return true
	}
	*m.ids++
	m.ev[*m.ids] = e
	return false
}

func TestLawsBCounter(t *testing.T) { checkLaws(t, specs[KindBCounter]) }

func FuzzUnmarshalBCounter(f *testing.F) { fuzzDecoder(f, KindBCounter) }

func TestBCounterBasics(t *testing.T) {
	a := &BCounter{}
	wantValue(t, a, int64(0))
	mustApply(t, a, BCounterOp{Delta: 10}, aA, Context{})
	mustApply(t, a, BCounterOp{Delta: -4}, aA, Context{})
	wantValue(t, a, int64(6))
	if a.Rights(aA) != 6 || a.Rights(aB) != 0 {
		t.Fatalf("rights %d %d", a.Rights(aA), a.Rights(aB))
	}

	// Too much for the counter.
	before := enc(t, a)
	err := a.Apply(BCounterOp{Delta: -7}, aA)
	var ire *InsufficientRightsError
	if !errors.As(err, &ire) || !errors.Is(err, ErrInsufficientRights) || !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err %v", err)
	}
	if *ire != (InsufficientRightsError{Op: "decrement", Actor: aA, Requested: 7, Local: 6, Global: 6}) {
		t.Fatalf("error %+v", ire)
	}
	if want := "riakgo/dt: insufficient rights: cannot decrement by 7 at replica 000000000000000a:1: it holds 6 of the counter's 6 (the counter cannot go below zero)"; err.Error() != want {
		t.Fatalf("message\n%s\nwant\n%s", err, want)
	}
	if !bytes.Equal(before, enc(t, a)) {
		t.Fatal("a refused decrement changed the counter")
	}

	// Enough in the counter, but the rights are at another replica.
	b := &BCounter{}
	mustMerge(t, b, a)
	err = b.Apply(BCounterOp{Delta: -2}, aB)
	if !errors.As(err, &ire) || ire.Local != 0 || ire.Global != 6 {
		t.Fatalf("err %v", err)
	}
	if want := "riakgo/dt: insufficient rights: cannot decrement by 2 at replica 000000000000000b:1: it holds 0 of the counter's 6 (the other 6 are held by other replicas)"; err.Error() != want {
		t.Fatalf("message\n%s\nwant\n%s", err, want)
	}

	// A transfers 5 rights to B; B can spend them once it has merged.
	mustApply(t, a, BTransferOp{To: aB, Amount: 5}, aA, Context{})
	wantValue(t, a, int64(6)) // a transfer does not change the value
	if a.Rights(aA) != 1 || a.Rights(aB) != 5 {
		t.Fatalf("rights after transfer %d %d", a.Rights(aA), a.Rights(aB))
	}
	err = a.Apply(BCounterOp{Delta: -2}, aA)
	if !errors.As(err, &ire) || ire.Local != 1 || ire.Global != 6 || ire.Error() != "riakgo/dt: insufficient rights: cannot decrement by 2 at replica 000000000000000a:1: it holds 1 of the counter's 6 (the other 5 are held by other replicas)" {
		t.Fatalf("err %v", err)
	}
	mustMerge(t, b, a)
	mustApply(t, b, BCounterOp{Delta: -5}, aB, Context{})
	err = b.Transfer(1, aB, aA)
	if !errors.As(err, &ire) || ire.Op != "transfer" {
		t.Fatalf("transfer without rights: %v", err)
	}
	mustMerge(t, a, b)
	mustMerge(t, b, a)
	sameBytes(t, "converged", a, b)
	wantValue(t, a, int64(1))
	if a.Rights(aA) != 1 || a.Rights(aB) != 0 {
		t.Fatalf("final rights %d %d", a.Rights(aA), a.Rights(aB))
	}
	if st := a.Stats(); st != (Stats{Actors: 2, Elements: 1}) {
		t.Fatalf("stats %+v", st)
	}
	if got := a.Actors(); len(got) != 2 || got[0] != aA || got[1] != aB {
		t.Fatalf("actors %v", got)
	}
	if !a.Context().IsZero() {
		t.Fatal("a bounded counter has no context")
	}

	// Invalid requests.
	before = enc(t, a)
	for name, tc := range map[string]struct {
		op    Op
		actor vclock.Actor
		want  error
	}{
		"zero actor":       {BCounterOp{Delta: 1}, vclock.Actor{}, ErrInvalidActor},
		"transfer to self": {BTransferOp{To: aA, Amount: 1}, aA, ErrInvalidOp},
		"transfer to zero": {BTransferOp{Amount: 1}, aA, ErrInvalidActor},
		"counter op":       {CounterOp{Delta: 1}, aA, ErrTypeMismatch},
		"op-log op":        {OpLogOp{Amount: 1}, aA, ErrTypeMismatch},
		"value overflow":   {BCounterOp{Delta: math.MaxInt64}, aA, ErrOverflow},
		"MinInt64":         {BCounterOp{Delta: math.MinInt64}, aA, ErrInsufficientRights},
	} {
		if err := a.ApplyOp(tc.op, tc.actor, Context{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
		if !bytes.Equal(before, enc(t, a)) {
			t.Fatalf("%s changed the counter", name)
		}
	}
	// No-ops need nothing.
	mustApply(t, a, BCounterOp{}, vclock.Actor{}, Context{})
	mustApply(t, a, BTransferOp{To: aA}, aA, Context{})
	if !bytes.Equal(before, enc(t, a)) {
		t.Fatal("a no-op changed the counter")
	}
	if err := a.Merge(&OpLog{}); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("merge with an op-log: %v", err)
	}
}

func TestBCounterExtremes(t *testing.T) {
	c := &BCounter{}
	mustApply(t, c, BCounterOp{Delta: math.MaxInt64}, aA, Context{})
	wantValue(t, c, int64(math.MaxInt64))
	mustApply(t, c, BCounterOp{Delta: math.MinInt64 + 1}, aA, Context{})
	wantValue(t, c, int64(0))
	// Increment totals keep growing while the value stays in range, until
	// the actor's 64-bit total is spent.
	mustApply(t, c, BCounterOp{Delta: math.MaxInt64}, aA, Context{})
	mustApply(t, c, BCounterOp{Delta: math.MinInt64 + 1}, aA, Context{})
	if err := c.Apply(BCounterOp{Delta: 2}, aA); !errors.Is(err, ErrOverflow) {
		t.Fatalf("increment total overflow: %v", err)
	}
	mustApply(t, c, BCounterOp{Delta: 1}, aA, Context{})
	// Concurrent maximal increments merge to a value beyond int64: Int
	// saturates instead of wrapping negative.
	d := &BCounter{}
	mustApply(t, d, BCounterOp{Delta: math.MaxInt64}, aB, Context{})
	mustMerge(t, d, c)
	wantValue(t, d, int64(math.MaxInt64))
	if d.Rights(aB) != math.MaxInt64 || d.Rights(aA) != 1 {
		t.Fatalf("rights %d %d", d.Rights(aB), d.Rights(aA))
	}
	roundTrip(t, d)
}

// TestBCounterVersusOpLogOverdraft is the reference's §5.2 (d): two
// concurrent withdrawals of 80 from a balance of 100. An OpLog applies
// both (−60); a bounded counter whose rights are split cannot overdraw.
func TestBCounterVersusOpLogOverdraft(t *testing.T) {
	la, lb := &OpLog{}, &OpLog{}
	oplog(t, la, 100, aA)
	mustMerge(t, lb, la)
	oplog(t, la, -80, aA)
	oplog(t, lb, -80, aB)
	mustMerge(t, la, lb)
	if la.Balance() != -60 {
		t.Fatalf("op-log balance %d", la.Balance())
	}

	ca, cb := &BCounter{}, &BCounter{}
	mustApply(t, ca, BCounterOp{Delta: 100}, aA, Context{})
	mustApply(t, ca, BTransferOp{To: aB, Amount: 50}, aA, Context{})
	mustMerge(t, cb, ca)
	errA := ca.Apply(BCounterOp{Delta: -80}, aA)
	errB := cb.Apply(BCounterOp{Delta: -80}, aB)
	if !errors.Is(errA, ErrInsufficientRights) || !errors.Is(errB, ErrInsufficientRights) {
		t.Fatalf("withdrawals: %v, %v", errA, errB)
	}
	// One of them gathers the rights first; the other then cannot.
	mustApply(t, cb, BTransferOp{To: aA, Amount: 50}, aB, Context{})
	mustMerge(t, ca, cb)
	mustApply(t, ca, BCounterOp{Delta: -80}, aA, Context{})
	if err := cb.Apply(BCounterOp{Delta: -80}, aB); !errors.Is(err, ErrInsufficientRights) {
		t.Fatalf("second withdrawal: %v", err)
	}
	mustMerge(t, ca, cb)
	mustMerge(t, cb, ca)
	wantValue(t, ca, int64(20))
	sameBytes(t, "converged", ca, cb)
}

// TestBCounterNeverNegative drives 3–5 replicas through random increments,
// decrements and transfers between them while they are partitioned into
// groups that merge only among themselves (the groups change from time to
// time), then heals. At every step every replica's value is ≥ 0, its
// rights are ≥ 0 and sum to its value, a decrement fails exactly when the
// replica's own rights are short, and any two states ever seen merge to a
// value ≥ 0; after healing every replica holds the same state, whose value
// is the increments minus the successful decrements.
func TestBCounterNeverNegative(t *testing.T) {
	r := newRand(t)
	runs := 300
	if testing.Short() {
		runs = 60
	}
	var refused, refusedWithValue, decs int
	for run := range runs {
		n := 3 + r.IntN(3)
		reps := make([]*BCounter, n)
		actors := make([]vclock.Actor, n)
		for i := range reps {
			reps[i] = &BCounter{}
			actors[i] = vclock.Actor{ID: uint64(i+1) << (8 * r.IntN(4)), Epoch: uint32(run)}
		}
		group := make([]int, n)
		regroup := func() {
			g := 1 + r.IntN(3)
			for i := range group {
				group[i] = r.IntN(g)
			}
		}
		regroup()
		var pool []*BCounter
		var incs, okDecs int64
		fail := func(step int, f string, args ...any) {
			t.Helper()
			t.Fatalf("run %d step %d: %s", run, step, fmt.Sprintf(f, args...))
		}
		for step := range 150 {
			i := r.IntN(n)
			c := reps[i]
			switch x := r.IntN(20); {
			case x < 6:
				d := 1 + r.Int64N(20)
				mustApply(t, c, BCounterOp{Delta: d}, actors[i], Context{})
				incs += d
			case x < 12:
				d := 1 + r.Int64N(30)
				have := c.Rights(actors[i])
				err := c.Apply(BCounterOp{Delta: -d}, actors[i])
				decs++
				switch {
				case err == nil && have >= uint64(d):
					okDecs += d
				case errors.Is(err, ErrInsufficientRights) && have < uint64(d):
					var ire *InsufficientRightsError
					if !errors.As(err, &ire) || ire.Local != have || ire.Global != c.Int() || ire.Requested != uint64(d) {
						fail(step, "error %+v (rights %d, value %d)", ire, have, c.Int())
					}
					refused++
					if c.Int() >= d {
						refusedWithValue++
					}
				default:
					fail(step, "decrement %d with rights %d: %v", d, have, err)
				}
			case x < 15:
				j := r.IntN(n - 1)
				if j >= i {
					j++
				}
				amt := 1 + r.Uint64N(15)
				have := c.Rights(actors[i])
				err := c.Transfer(amt, actors[i], actors[j])
				if (err == nil) != (have >= amt) || (err != nil && !errors.Is(err, ErrInsufficientRights)) {
					fail(step, "transfer %d with rights %d: %v", amt, have, err)
				}
			case x < 19: // merge within the group
				j := r.IntN(n)
				if group[i] == group[j] {
					mustMerge(t, c, reps[j])
				}
			default:
				regroup()
			}
			for k, rep := range reps {
				checkRights(t, rep, func(f string, args ...any) { fail(step, "replica %d: "+f, append([]any{k}, args...)...) })
			}
			pool = append(pool, c.Clone().(*BCounter))
			a, b := pool[r.IntN(len(pool))], pool[r.IntN(len(pool))]
			checkRights(t, merged(t, a, b).(*BCounter), func(f string, args ...any) { fail(step, "merge of two states seen: "+f, args...) })
		}
		// Heal.
		all := &BCounter{}
		for _, c := range reps {
			mustMerge(t, all, c)
		}
		for k, c := range reps {
			mustMerge(t, c, all)
			sameBytes(t, fmt.Sprintf("run %d replica %d after healing", run, k), c, all)
		}
		if got, want := all.Int(), incs-okDecs; got != want {
			t.Fatalf("run %d: healed value %d, want increments %d − successful decrements %d = %d", run, got, incs, okDecs, want)
		}
		checkRights(t, all, func(f string, args ...any) { t.Fatalf("run %d healed: "+f, append([]any{run}, args...)...) })
	}
	t.Logf("%d runs: %d of %d decrements refused for lack of local rights, %d of them while the replica's value covered them (rights held elsewhere)",
		runs, refused, decs, refusedWithValue)
}

// checkRights checks value ≥ 0, every actor's rights ≥ 0, and that the
// rights add up to the value.
func checkRights(t *testing.T, c *BCounter, fail func(string, ...any)) {
	t.Helper()
	v := c.value()
	if v.neg {
		fail("value %d < 0", c.Int())
	}
	var sum uint64
	for _, a := range c.Actors() {
		rt := c.rights(a)
		if rt.neg {
			fail("actor %s has negative rights", a)
		}
		sum += rt.lo
	}
	if sum != v.lo {
		fail("rights sum to %d, value %d", sum, v.lo)
	}
}

func TestBCounterEncoding(t *testing.T) {
	c := &BCounter{}
	mustApply(t, c, BCounterOp{Delta: 10}, aA, Context{})
	mustApply(t, c, BTransferOp{To: aB, Amount: 4}, aA, Context{})
	// B 1 | 2 actors: (0a 01) (0b 01) | A: inc 10, dec 0, 1 transfer (to 1, 4) | B: 0 0 0
	want := []byte{'B', 1, 2, 0x0a, 1, 0x0b, 1, 10, 0, 1, 1, 4, 0, 0, 0}
	if got := enc(t, c); !bytes.Equal(got, want) {
		t.Fatalf("encoding %x, want %x", got, want)
	}
	if b, _ := (&BCounter{}).MarshalBinary(); !bytes.Equal(b, []byte{'B', 1, 0}) {
		t.Fatalf("empty %x", b)
	}
	mk := func(b ...byte) []byte { return append([]byte{'B', 1}, b...) }
	for name, in := range map[string][]byte{
		"unused actor":        mk(2, 0x0a, 1, 0x0b, 1, 10, 0, 0, 0, 0, 0),
		"negative rights":     mk(1, 0x0a, 1, 1, 2, 0),
		"overdrawn transfer":  mk(2, 0x0a, 1, 0x0b, 1, 1, 0, 1, 1, 2, 0, 0, 0),
		"transfer to self":    mk(1, 0x0a, 1, 5, 0, 1, 0, 1),
		"zero transfer":       mk(2, 0x0a, 1, 0x0b, 1, 5, 0, 1, 1, 0, 0, 0, 0),
		"transfer range":      mk(2, 0x0a, 1, 0x0b, 1, 5, 0, 1, 2, 1, 0, 0, 0),
		"transfers unsorted":  mk(3, 0x0a, 1, 0x0b, 1, 0x0c, 1, 5, 0, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0),
		"unsorted actors":     mk(2, 0x0b, 1, 0x0a, 1, 1, 0, 0, 1, 0, 0),
		"duplicate actors":    mk(2, 0x0a, 1, 0x0a, 1, 1, 0, 0, 1, 0, 0),
		"zero actor":          mk(1, 0, 0, 1, 0, 0),
		"non-minimal varint":  mk(1, 0x8a, 0, 1, 1, 0, 0),
		"trailing byte":       append(bytes.Clone(want), 0),
		"truncated":           want[:len(want)-1],
		"future version":      {'B', 2, 0},
		"huge actor count":    mk(0xff, 0xff, 0xff, 0xff, 0x0f),
		"huge transfer count": mk(1, 0x0a, 1, 5, 0, 0xff, 0xff, 0x03),
	} {
		if _, err := Unmarshal(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %x accepted (%v)", name, in, err)
		}
		x := &BCounter{}
		if err := x.UnmarshalBinary(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %x accepted by BCounter (%v)", name, in, err)
		}
	}
	if err := (&BCounter{}).UnmarshalBinary([]byte{'O', 1, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("an op-log accepted as a bounded counter: %v", err)
	}
	// A refused input leaves the receiver unchanged.
	before := enc(t, c)
	_ = c.UnmarshalBinary(mk(1, 0x0a, 1, 1, 2, 0))
	if !bytes.Equal(before, enc(t, c)) {
		t.Fatal("refused input changed the receiver")
	}
}
