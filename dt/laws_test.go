package dt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// spec describes one data type to the property harness.
type spec struct {
	// empty returns the run's empty value; replicas start as clones of it.
	empty func(r *rand.Rand) CRDT
	// genOp draws an operation a client issues after reading read (removes
	// mostly aim at what the read showed).
	genOp func(r *rand.Rand, read CRDT) Op
	// newModel returns the empty model of the run's value.
	newModel func(ids *int, empty CRDT) model
	runs     int // default 200
	steps    int // default 80
}

// checkLaws is the one property harness every data type passes. Each run
// drives 3 or 4 replicas, each with its own actor, through a seeded random
// schedule of client operations (with no context, or with the context of
// an earlier, possibly stale, read from any replica), one-way merges,
// reads and decode/encode round trips, and checks:
//
//   - every replica's value equals the model's at every step, and the real
//     type fails a precondition exactly when the model says it must; a
//     failed operation leaves the value byte for byte unchanged;
//   - an operation sent with a context never removes a dot outside that
//     context: every dot the replica held that the context does not cover
//     is still held afterwards (a map counter entry may only move on to a
//     later dot of the same actor, carrying its totals);
//   - an operation sent with a context that adds and removes the same set
//     element (or updates and removes the same map field), in either
//     order, leaves it present: the add's new dot is outside the context;
//   - merge is commutative, associative and idempotent, on encodings, over
//     triples drawn from every state the run produced (replicas and reads),
//     absorbs what it has merged (inflation), and never changes its
//     argument;
//   - encodings round-trip exactly;
//   - after all states are exchanged (two different merge orders), every
//     replica holds the same bytes and the model's value.
//
// Replay a failure with -seed; the run and step are in the message.
func checkLaws(t *testing.T, sp spec) {
	r := newRand(t)
	runs, steps := sp.runs, sp.steps
	if runs == 0 {
		runs = 200
	}
	if steps == 0 {
		steps = 80
	}
	if testing.Short() {
		runs /= 4
	}
	for run := range runs {
		lawsRun(t, r, sp, run, steps)
		if t.Failed() {
			return
		}
	}
}

type reading struct {
	v CRDT
	m model
}

func lawsRun(t *testing.T, r *rand.Rand, sp spec, run, steps int) {
	t.Helper()
	fail := func(step int, format string, args ...any) {
		t.Helper()
		t.Fatalf("run %d step %d: %s", run, step, fmt.Sprintf(format, args...))
	}
	n := 3 + r.IntN(2)
	empty := sp.empty(r)
	ids := new(int)
	reps := make([]CRDT, n)
	models := make([]model, n)
	actors := make([]vclock.Actor, n)
	for i := range reps {
		reps[i] = empty.Clone()
		models[i] = sp.newModel(ids, empty)
		actors[i] = vclock.Actor{ID: uint64(i + 1), Epoch: uint32(run)}
		if r.IntN(4) == 0 {
			actors[i].ID = r.Uint64() | 1 // long varints too
		}
	}
	var reads []reading
	var pool []CRDT
	remember := func(v CRDT) {
		pool = append(pool, v.Clone())
		if len(pool) > 48 {
			pool = pool[len(pool)-48:]
		}
	}
	for step := range steps {
		i := r.IntN(n)
		switch x := r.IntN(20); {
		case x < 10: // a client operation at replica i
			var rd reading
			ctx := Context{}
			if len(reads) > 0 && r.IntN(4) != 0 {
				rd = reads[len(reads)-1-r.IntN(min(len(reads), 6))]
				ctx = rd.v.Context()
			} else {
				rd = reading{v: reps[i]}
			}
			op := sp.genOp(r, rd.v)
			before := enc(t, reps[i])
			err := reps[i].ApplyOp(op, actors[i], ctx)
			if errors.Is(err, ErrTooManyDeferred) {
				if !bytes.Equal(before, enc(t, reps[i])) {
					fail(step, "a refused op changed the value")
				}
				continue
			}
			var held map[heldKey]uint64
			if !ctx.IsZero() {
				held = heldDots(reps[i])
			}
			m2 := models[i].clone()
			want := m2.apply(op, actors[i], rd.m)
			switch {
			case err != nil && !errors.Is(err, ErrPrecondition):
				fail(step, "apply %#v: %v", op, err)
			case want && err == nil:
				fail(step, "apply %#v with %v succeeded; the model says the precondition fails", op, ctx)
			case !want && err != nil:
				fail(step, "apply %#v with %v: %v; the model says it succeeds", op, ctx, err)
			case err != nil:
				if !bytes.Equal(before, enc(t, reps[i])) {
					fail(step, "a failed op changed the value")
				}
			default:
				models[i] = m2
				if !ctx.IsZero() {
					checkContextRemove(reps[i], op, ctx, held, func(f string, args ...any) { t.Helper(); fail(step, f, args...) })
				}
			}
		case x < 16: // replica i merges replica j's state
			j := r.IntN(n)
			if len(pool) >= 1 {
				a, b, c := pool[r.IntN(len(pool))], pool[r.IntN(len(pool))], reps[j]
				checkJoin(t, a, b, c, func(f string, args ...any) { t.Helper(); fail(step, f, args...) })
			}
			mustMerge(t, reps[i], reps[j])
			models[i].merge(models[j])
		case x < 19: // a client reads replica i
			reads = append(reads, reading{v: reps[i].Clone(), m: models[i].clone()})
		default: // the vnode stores and reloads its value
			v, err := Unmarshal(enc(t, reps[i]))
			if err != nil {
				fail(step, "reload: %v", err)
			}
			reps[i] = v
		}
		if got, want := reps[i].Value(), models[i].value(); !reflect.DeepEqual(got, want) {
			fail(step, "replica %d: value %#v, model %#v", i, got, want)
		}
		roundTrip(t, reps[i])
		remember(reps[i])
	}
	// Exchange everything, in two different orders.
	order := r.Perm(n)
	all := reps[order[0]].Clone()
	mAll := models[order[0]].clone()
	for _, k := range order[1:] {
		mustMerge(t, all, reps[k])
		mAll.merge(models[k])
	}
	tree := make([]CRDT, n)
	for k := range reps {
		tree[k] = reps[k].Clone()
	}
	for len(tree) > 1 {
		a, b := r.IntN(len(tree)), r.IntN(len(tree)-1)
		if b >= a {
			b++
		}
		mustMerge(t, tree[a], tree[b])
		tree = append(tree[:b], tree[b+1:]...)
	}
	sameBytes(t, fmt.Sprintf("run %d: two merge orders", run), all, tree[0])
	for k := range reps {
		mustMerge(t, reps[k], all)
		sameBytes(t, fmt.Sprintf("run %d: replica %d after exchange", run, k), reps[k], all)
	}
	if got, want := all.Value(), mAll.value(); !reflect.DeepEqual(got, want) {
		t.Fatalf("run %d: converged value %#v, model %#v", run, got, want)
	}
}

// checkJoin checks the semilattice laws on three states.
func checkJoin(t *testing.T, a, b, c CRDT, fail func(string, ...any)) {
	t.Helper()
	ab, ba := merged(t, a, b), merged(t, b, a)
	if !bytes.Equal(enc(t, ab), enc(t, ba)) {
		fail("merge not commutative:\n a=%v\n b=%v\n ab=%v\n ba=%v", a.Value(), b.Value(), ab.Value(), ba.Value())
	}
	if !bytes.Equal(enc(t, merged(t, a, a)), enc(t, a)) {
		fail("merge not idempotent: %v", a.Value())
	}
	if !bytes.Equal(enc(t, merged(t, ab, a)), enc(t, ab)) || !bytes.Equal(enc(t, merged(t, ab, b)), enc(t, ab)) {
		fail("merge does not absorb its inputs")
	}
	l, rr := merged(t, ab, c), merged(t, a, merged(t, b, c))
	if !bytes.Equal(enc(t, l), enc(t, rr)) {
		fail("merge not associative:\n (ab)c=%v\n a(bc)=%v", l.Value(), rr.Value())
	}
}

// ---- per-type specs ----

// specs drive the property harness, the round-trip tests and the fuzz
// seeds for every type.
var specs = map[Kind]spec{
	KindCounter: {
		empty: func(*rand.Rand) CRDT { return &Counter{} },
		genOp: func(r *rand.Rand, _ CRDT) Op {
			if r.IntN(10) == 0 {
				return CounterOp{Delta: r.Int64N(1<<40) - 1<<39}
			}
			return CounterOp{Delta: r.Int64N(11) - 5}
		},
		newModel: func(ids *int, _ CRDT) model { return newCounterModel(ids) },
	},
	KindSet: {
		empty:    func(*rand.Rand) CRDT { return &Set{} },
		genOp:    func(r *rand.Rand, read CRDT) Op { return genSetOp(r, read.(*Set).Elements()) },
		newModel: func(ids *int, _ CRDT) model { return setModel{newEvModel(ids)} },
		runs:     400,
	},
	KindFlag: {
		empty:    func(*rand.Rand) CRDT { return &Flag{} },
		genOp:    func(r *rand.Rand, _ CRDT) Op { return FlagOp{Enable: r.IntN(2) == 0} },
		newModel: func(ids *int, _ CRDT) model { return flagModel{newEvModel(ids)} },
	},
	KindRegister: {
		empty: func(*rand.Rand) CRDT { return &Register{} },
		genOp: func(r *rand.Rand, _ CRDT) Op {
			return RegisterOp{Value: pick(r, universe), Timestamp: 1 + r.Int64N(4)}
		},
		newModel: func(ids *int, _ CRDT) model { return newRegisterModel(ids) },
	},
	KindGSet: {
		empty:    func(*rand.Rand) CRDT { return &GSet{} },
		genOp:    func(r *rand.Rand, _ CRDT) Op { return GSetOp{Elements: someOf(r, nil)} },
		newModel: func(ids *int, _ CRDT) model { return newGSetModel(ids) },
	},
	KindHLL: {
		empty: func(r *rand.Rand) CRDT {
			h, _ := NewHLL(MinHLLPrecision + r.IntN(5))
			return h
		},
		genOp: func(r *rand.Rand, _ CRDT) Op {
			els := make([]string, 1+r.IntN(8))
			for i := range els {
				els[i] = fmt.Sprint("e", r.IntN(400))
			}
			return HLLOp{Elements: els}
		},
		newModel: func(ids *int, e CRDT) model { return newHLLModel(ids, e.(*HLL).Precision()) },
	},
	KindMap: {
		empty:    func(*rand.Rand) CRDT { return &Map{} },
		genOp:    func(r *rand.Rand, read CRDT) Op { return genMapOp(r, read.Value().(map[string]any), 1) },
		newModel: func(ids *int, _ CRDT) model { return mapModel{newEvModel(ids)} },
		runs:     300,
	},
}

var universe = []string{"a", "b", "c", "d", "e"}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// someOf draws 1..2 elements, preferring those in seen when there are any.
func someOf(r *rand.Rand, seen []string) []string {
	out := make([]string, 1+r.IntN(2))
	for i := range out {
		if len(seen) > 0 && r.IntN(4) != 0 {
			out[i] = pick(r, seen)
		} else {
			out[i] = pick(r, universe)
		}
	}
	return out
}

func genSetOp(r *rand.Rand, seen []string) SetOp {
	var op SetOp
	if r.IntN(6) == 0 { // the same element added and removed in one update
		x := pick(r, universe)
		if r.IntN(2) == 0 {
			return op.Add(x).Remove(x)
		}
		return op.Remove(x).Add(x)
	}
	for range 1 + r.IntN(3) {
		if r.IntN(2) == 0 {
			op = op.Add(someOf(r, nil)...)
		} else {
			op = op.Remove(someOf(r, seen)...)
		}
	}
	return op
}

// Map fields are drawn from two names and every embeddable type; nested
// maps go three levels deep.
func genMapOp(r *rand.Rand, read map[string]any, depth int) MapOp {
	var op MapOp
	for range 1 + r.IntN(3) {
		f := Field{Name: pick(r, []string{"a", "b"}), Type: []Kind{KindCounter, KindSet, KindRegister, KindFlag, KindMap}[r.IntN(5)]}
		if f.Type == KindMap && depth >= 3 {
			f.Type = KindSet
		}
		if r.IntN(10) == 0 { // the same field updated and removed in one update
			nested := Op(CounterOp{Delta: 1})
			switch f.Type {
			case KindSet:
				nested = add(pick(r, universe))
			case KindRegister:
				nested = RegisterOp{Value: pick(r, universe), Timestamp: 1 + r.Int64N(4)}
			case KindFlag:
				nested = FlagOp{Enable: true}
			case KindMap:
				nested = upd(Field{Name: "a", Type: KindCounter}, CounterOp{Delta: 1})
			}
			if r.IntN(2) == 0 {
				op = op.Update(f, nested).Remove(f)
			} else {
				op = op.Remove(f).Update(f, nested)
			}
			continue
		}
		if r.IntN(4) == 0 {
			if len(read) > 0 && r.IntN(4) != 0 { // a field the read showed
				if g, err := ParseField(pick(r, slices.Sorted(maps.Keys(read)))); err == nil {
					f = g
				}
			}
			op = op.Remove(f)
			continue
		}
		var nested Op
		switch f.Type {
		case KindCounter:
			nested = CounterOp{Delta: r.Int64N(7) - 3}
		case KindSet:
			seen, _ := read[f.String()].([]string)
			nested = genSetOp(r, seen)
		case KindRegister:
			nested = RegisterOp{Value: pick(r, universe), Timestamp: 1 + r.Int64N(4)}
		case KindFlag:
			nested = FlagOp{Enable: r.IntN(2) == 0}
		case KindMap:
			sub, _ := read[f.String()].(map[string]any)
			nested = genMapOp(r, sub, depth+1)
		}
		op = op.Update(f, nested)
	}
	return op
}

func TestLawsCounter(t *testing.T)  { checkLaws(t, specs[KindCounter]) }
func TestLawsSet(t *testing.T)      { checkLaws(t, specs[KindSet]) }
func TestLawsFlag(t *testing.T)     { checkLaws(t, specs[KindFlag]) }
func TestLawsRegister(t *testing.T) { checkLaws(t, specs[KindRegister]) }
func TestLawsGSet(t *testing.T)     { checkLaws(t, specs[KindGSet]) }
func TestLawsHLL(t *testing.T)      { checkLaws(t, specs[KindHLL]) }
func TestLawsMap(t *testing.T)      { checkLaws(t, specs[KindMap]) }
