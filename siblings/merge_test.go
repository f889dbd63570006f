package siblings_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

type updateFunc func(t testing.TB, local *siblings.Object, put siblings.Sibling, ctx vclock.VClock, actor vclock.Actor, now int64, opt siblings.UpdateOptions) *siblings.Object

func plainUpdate(_ testing.TB, local *siblings.Object, put siblings.Sibling, ctx vclock.VClock, actor vclock.Actor, now int64, opt siblings.UpdateOptions) *siblings.Object {
	return siblings.Update(local, put, ctx, actor, now, opt)
}

// write is one client write of a history: its dot and the context it sent.
type write struct {
	dot vclock.Dot
	ctx vclock.VClock
}

// history generates a random but realistic run: a few replicas, each the
// only user of its own actor; clients write through any replica with a
// context read from any earlier state (or none), and replicas receive
// earlier states of other replicas in any order (delayed, duplicated
// replication, read repair, handoff).
type history struct {
	r        *rand.Rand
	opt      siblings.UpdateOptions
	actors   []vclock.Actor
	replicas []*siblings.Object
	pool     []*siblings.Object // every state that ever existed
	writes   []write
	seq      int
}

func newHistory(r *rand.Rand, n int, opt siblings.UpdateOptions) *history {
	h := &history{r: r, opt: opt, replicas: make([]*siblings.Object, n)}
	for i := 0; i < n; i++ {
		h.actors = append(h.actors, vclock.Actor{ID: uint64(0xA0 + i), Epoch: uint32(r.IntN(3))})
	}
	return h
}

func (h *history) pick() *siblings.Object { return h.pool[h.r.IntN(len(h.pool))] }

func (h *history) step(t testing.TB, update updateFunc) {
	h.seq++
	i := h.r.IntN(len(h.replicas))
	if len(h.pool) == 0 || h.r.IntN(3) != 0 {
		var ctx vclock.VClock
		if len(h.pool) > 0 && h.r.IntN(5) != 0 {
			ctx = h.pick().Clock
			if h.r.IntN(4) == 0 { // a client that read two replicas
				ctx = vclock.Merge(ctx, h.pick().Clock)
			}
		}
		put := val(fmt.Sprint("s", h.seq))
		put.Meta.LastModified = (t0 + h.r.Int64N(5)) * 1e6
		put.Meta.Deleted = h.r.IntN(8) == 0
		h.replicas[i] = update(t, h.replicas[i], put, ctx, h.actors[i], t0+int64(h.seq), h.opt)
		h.writes = append(h.writes, write{dot: vclock.Dot{Actor: h.actors[i], Counter: h.replicas[i].Clock.Get(h.actors[i])}, ctx: ctx})
	} else {
		h.replicas[i] = siblings.Merge(h.replicas[i], h.pick())
	}
	if h.replicas[i] != nil {
		h.pool = append(h.pool, h.replicas[i])
	}
}

// checkMerge asserts the replica-merge contract for one pair.
func checkMerge(t testing.TB, a, b *siblings.Object) *siblings.Object {
	t.Helper()
	if a == nil || b == nil {
		if m := siblings.Merge(a, b); m != a && m != b || (m == nil) != (a == nil && b == nil) {
			t.Fatalf("Merge(%s, %s) = %s", describe(a), describe(b), describe(m))
		}
		return siblings.Merge(a, b)
	}
	ac, bc := deepCopy(a), deepCopy(b)
	m := siblings.Merge(a, b)
	if !identical(a, ac) || !identical(b, bc) {
		t.Fatal("Merge modified an argument")
	}
	if mr := siblings.Merge(b, a); !siblings.Equal(m, mr) {
		t.Fatalf("Merge not commutative:\n a   = %s\n b   = %s\n a⊔b = %s\n b⊔a = %s", describe(a), describe(b), describe(m), describe(mr))
	}
	if aa := siblings.Merge(a, deepCopy(a)); !siblings.Equal(aa, a) {
		t.Fatalf("Merge not idempotent: %s ⊔ itself = %s", describe(a), describe(aa))
	}
	if !m.Clock.Descends(a.Clock) || !m.Clock.Descends(b.Clock) || !m.Clock.Equal(vclock.Merge(a.Clock, b.Clock)) {
		t.Fatalf("merged clock %v is not the join of %v and %v", m.Clock, a.Clock, b.Clock)
	}
	// A sibling disappears only if the other side has seen its write and
	// no longer holds it.
	for _, side := range [][2]*siblings.Object{{a, b}, {b, a}} {
		x, y := side[0], side[1]
		for _, s := range x.Siblings {
			superseded := y.Clock.Covers(s.Dot) && findDot(y, s.Dot) == nil
			kept := findDot(m, s.Dot) != nil
			if kept == superseded {
				t.Fatalf("sibling %s@%v (superseded=%v) kept=%v:\n x = %s\n y = %s\n m = %s",
					s.Value, s.Dot, superseded, kept, describe(x), describe(y), describe(m))
			}
		}
	}
	for _, s := range m.Siblings {
		if findDot(a, s.Dot) == nil && findDot(b, s.Dot) == nil {
			t.Fatalf("merge invented sibling %s@%v", s.Value, s.Dot)
		}
	}
	return m
}

func TestMergeLawsDVV(t *testing.T) {
	r := newRand(t)
	for run := 0; run < 150; run++ {
		h := newHistory(r, 2+r.IntN(3), dvvOn)
		for i := 0; i < 30; i++ {
			h.step(t, plainUpdate)
		}
		for _, o := range h.pool {
			checkInvariants(t, o)
		}
		for k := 0; k < 40; k++ {
			a, b, c := h.pick(), h.pick(), h.pick()
			ab := checkMerge(t, a, b)
			checkInvariants(t, ab)
			l := siblings.Merge(ab, c)
			rr := siblings.Merge(a, siblings.Merge(b, c))
			if !siblings.Equal(l, rr) {
				t.Fatalf("Merge not associative:\n a = %s\n b = %s\n c = %s\n (a⊔b)⊔c = %s\n a⊔(b⊔c) = %s",
					describe(a), describe(b), describe(c), describe(l), describe(rr))
			}
		}
	}
}

// Without DVV siblings carry no dots; Merge is still commutative and
// idempotent. It is not associative: with no per-sibling dots, whether a
// dominated object's undotted siblings survive depends on the grouping
// (a strictly dominated side is discarded whole, a concurrent one is
// unioned). That is Riak 1.x behaviour and the reason DVV exists.
func TestMergeLawsNoDVV(t *testing.T) {
	r := newRand(t)
	for run := 0; run < 150; run++ {
		h := newHistory(r, 2+r.IntN(3), dvvOff)
		for i := 0; i < 30; i++ {
			h.step(t, plainUpdate)
		}
		for k := 0; k < 40; k++ {
			a, b := h.pick(), h.pick()
			m := siblings.Merge(a, b)
			if !siblings.Equal(m, siblings.Merge(b, a)) {
				t.Fatalf("not commutative: %s ⊔ %s", describe(a), describe(b))
			}
			if !siblings.Equal(siblings.Merge(a, deepCopy(a)), a) {
				t.Fatalf("not idempotent: %s", describe(a))
			}
			if !m.Clock.Equal(vclock.Merge(a.Clock, b.Clock)) {
				t.Fatalf("clock %v is not the join", m.Clock)
			}
			// Nothing is dropped unless one side strictly dominates.
			if vclock.Compare(a.Clock, b.Clock) == vclock.Concurrent {
				want := append(values(a), values(b)...)
				slices.Sort(want)
				want = slices.Compact(want)
				if got := values(m); !slices.Equal(got, want) {
					t.Fatalf("concurrent merge kept %v, want %v", got, want)
				}
			}
		}
	}
}

func TestMergeNil(t *testing.T) {
	o := runTrace(dvvOn)[3]
	if siblings.Merge(nil, o) != o || siblings.Merge(o, nil) != o || siblings.Merge(nil, nil) != nil {
		t.Fatal("Merge with nil must return the other side")
	}
}

// TestConvergenceNoLostWrites: whatever the order and duplication of
// replication, once every replica has exchanged with every other they hold
// the same object, and its siblings are exactly the writes no other write's
// context had seen.
func TestConvergenceNoLostWrites(t *testing.T) {
	r := newRand(t)
	for run := 0; run < 200; run++ {
		h := newHistory(r, 2+r.IntN(3), dvvOn)
		for i := 0; i < 5+r.IntN(40); i++ {
			h.step(t, checkUpdate)
		}
		exchange(r, h.replicas)
		for i := 1; i < len(h.replicas); i++ {
			if !siblings.Equal(h.replicas[0], h.replicas[i]) {
				t.Fatalf("replicas diverge after exchange:\n %s\n %s", describe(h.replicas[0]), describe(h.replicas[i]))
			}
		}
		var want []vclock.Dot
		for _, w := range h.writes {
			superseded := false
			for _, o := range h.writes {
				if o.ctx.Covers(w.dot) {
					superseded = true
				}
			}
			if !superseded {
				want = append(want, w.dot)
			}
		}
		final := h.replicas[0]
		if len(final.Siblings) != len(want) {
			t.Fatalf("final %s, want exactly dots %v", describe(final), want)
		}
		for _, d := range want {
			if findDot(final, d) == nil {
				t.Fatalf("write %v lost: final %s", d, describe(final))
			}
		}
	}
}

// exchange merges every replica into every other until all agree (two
// rounds of all pairs, in random order, suffice).
func exchange(r *rand.Rand, reps []*siblings.Object) {
	for round := 0; round < 2; round++ {
		for _, i := range r.Perm(len(reps)) {
			for _, j := range r.Perm(len(reps)) {
				if i != j {
					reps[j] = siblings.Merge(reps[j], reps[i])
				}
			}
		}
	}
}

// schedule is a random interleaving of two writers' read-modify-write
// cycles. Each entry is a writer and what it does: read (take the stored
// clock as its context) or write (with the context it last read). A writer
// alternates read and write; after a write it sometimes keeps the returned
// clock (return_body) as its next context instead of reading again.
type action struct {
	writer     int
	write      bool
	returnBody bool // after this write, use the returned clock as context
	replica    int  // replica read from / coordinating the write
}

func twoWriterSchedule(r *rand.Rand, writes, replicas int) []action {
	var out []action
	hasCtx := [2]bool{}
	for n := 0; n < writes; {
		w := r.IntN(2)
		a := action{writer: w, replica: r.IntN(replicas)}
		if hasCtx[w] {
			a.write = true
			a.returnBody = r.IntN(3) == 0
			hasCtx[w] = a.returnBody
			n++
		} else {
			hasCtx[w] = true
		}
		out = append(out, a)
	}
	return out
}

func TestTwoWritersAtMostTwoSiblings(t *testing.T) {
	r := newRand(t)
	worstWithoutDVV := 0
	for run := 0; run < 50; run++ {
		sched := twoWriterSchedule(r, 100, 1)
		for _, opt := range []siblings.UpdateOptions{dvvOn, dvvOff} {
			var o *siblings.Object
			var ctx [2]vclock.VClock
			for i, a := range sched {
				if !a.write {
					if o != nil {
						ctx[a.writer] = o.Clock
					} else {
						ctx[a.writer] = nil
					}
					continue
				}
				v := fmt.Sprintf("w%d-%d", a.writer, i)
				o = checkUpdate(t, o, val(v), ctx[a.writer], actA, t0+int64(i), opt)
				if a.returnBody {
					ctx[a.writer] = o.Clock
				}
				if !opt.DVV {
					worstWithoutDVV = max(worstWithoutDVV, len(o.Siblings))
					continue
				}
				checkInvariants(t, o)
				if len(o.Siblings) > 2 {
					t.Fatalf("step %d: %d siblings: %s", i, len(o.Siblings), describe(o))
				}
				if !slices.Contains(values(o), v) {
					t.Fatalf("step %d: own write %s missing", i, v)
				}
			}
		}
	}
	// The schedules are adversarial enough to explode a clock without dots.
	if worstWithoutDVV <= 2 {
		t.Fatalf("without DVV the schedules never exceeded 2 siblings (max %d); the test is too weak", worstWithoutDVV)
	}
	t.Logf("without DVV the same schedules reached %d siblings", worstWithoutDVV)
}

func TestTwoWritersThreeReplicas(t *testing.T) {
	r := newRand(t)
	actors := []vclock.Actor{actA, actB, actC}
	for run := 0; run < 50; run++ {
		sched := twoWriterSchedule(r, 100, len(actors))
		reps := make([]*siblings.Object, len(actors))
		var ctx [2]vclock.VClock
		for i, a := range sched {
			if !a.write {
				// Read from one replica, or two (R=2) merged.
				o := reps[a.replica]
				if r.IntN(2) == 0 {
					o = siblings.Reconcile([]*siblings.Object{o, reps[r.IntN(len(reps))]}, true)
				}
				ctx[a.writer] = nil
				if o != nil {
					ctx[a.writer] = o.Clock
				}
				continue
			}
			v := fmt.Sprintf("w%d-%d", a.writer, i)
			c := a.replica
			res := checkUpdate(t, reps[c], val(v), ctx[a.writer], actors[c], t0+int64(i), dvvOn)
			reps[c] = res
			for _, j := range r.Perm(len(reps)) {
				if j != c {
					reps[j] = checkMerge(t, reps[j], res)
				}
			}
			if a.returnBody {
				ctx[a.writer] = res.Clock
			}
			for j, o := range reps {
				checkInvariants(t, o)
				if len(o.Siblings) > 2 {
					t.Fatalf("step %d: replica %d has %d siblings: %s", i, j, len(o.Siblings), describe(o))
				}
				if !slices.Contains(values(o), v) {
					t.Fatalf("step %d: replica %d lacks the write %s just replicated", i, j, v)
				}
			}
		}
		exchange(r, reps)
		for j := 1; j < len(reps); j++ {
			if !siblings.Equal(reps[0], reps[j]) {
				t.Fatalf("replicas diverge: %s vs %s", describe(reps[0]), describe(reps[j]))
			}
		}
	}
}

// Merging an object with itself (the same pointer, as a GET does when the
// object cache shares one decoded object among equal replicas) returns it
// without allocating, and equals the merge with a copy; an object whose
// siblings are out of canonical order still gets the sorted merge.
func TestMergeSameObject(t *testing.T) {
	r := newRand(t)
	for _, opt := range []siblings.UpdateOptions{dvvOn, dvvOff} {
		h := newHistory(r, 3, opt)
		for i := 0; i < 40; i++ {
			h.step(t, plainUpdate)
		}
		for _, a := range h.pool {
			if a == nil {
				continue
			}
			if m := siblings.Merge(a, a); m != a || !identical(m, siblings.Merge(a, deepCopy(a))) {
				t.Fatalf("Merge(a, a) = %s, want a itself: %s", describe(m), describe(a))
			}
			if n := testing.AllocsPerRun(10, func() { siblings.Merge(a, a) }); n != 0 {
				t.Fatalf("Merge(a, a) allocates %v times", n)
			}
		}
	}
	u := &siblings.Object{Clock: clk(actA, 1, actB, 1), Siblings: []siblings.Sibling{val("y"), val("x")}}
	u.Siblings[0].Dot, u.Siblings[1].Dot = dot(actB, 1), dot(actA, 1)
	m := siblings.Merge(u, u)
	if m == u || !identical(m, siblings.Merge(u, deepCopy(u))) || string(m.Siblings[0].Value) != "x" {
		t.Fatalf("out-of-order siblings: Merge(u, u) = %s", describe(m))
	}
}
