package dt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// The new kinds join the shared property harness, genState and
// fuzzDecoder through the specs table.
func init() {
	specs[KindOpLog] = spec{
		empty:    func(*rand.Rand) CRDT { return &OpLog{} },
		genOp:    func(r *rand.Rand, _ CRDT) Op { return genOpLogOp(r) },
		newModel: func(ids *int, _ CRDT) model { return &opLogModel{ids: ids, ops: map[any]int64{}} },
	}
	specs[KindBCounter] = spec{
		empty:    func(*rand.Rand) CRDT { return &BCounter{} },
		genOp:    func(r *rand.Rand, _ CRDT) Op { return genBCounterOp(r) },
		newModel: func(ids *int, _ CRDT) model { return &bcModel{ids: ids, ev: map[int]bcEvent{}} },
	}
}

var newKinds = []Kind{KindOpLog, KindBCounter}

// Client sessions that name their own operations; never a replica's actor.
var sessions = []vclock.Actor{{ID: 0x5e55_0000_0001, Epoch: 1}, {ID: 0x5e55_0000_0002, Epoch: 3}}

// sessionAmount is the amount of a session's operation seq: a session
// remembers its operations, so a re-sent id always carries the same amount.
func sessionAmount(id OpID) int64 { return int64(id.Seq*7%23) - 5 + int64(id.Actor.Epoch) }

// genOpLogOp draws a replica-numbered deposit or withdrawal, or a
// session's operation with a random sequence number (re-sends and gaps).
func genOpLogOp(r *rand.Rand) OpLogOp {
	if r.IntN(10) < 3 {
		id := OpID{Actor: sessions[r.IntN(len(sessions))], Seq: 1 + r.Uint64N(10)}
		return OpLogOp{ID: id, Amount: sessionAmount(id), Note: "session"}
	}
	op := OpLogOp{Amount: r.Int64N(151) - 50}
	if r.IntN(10) == 0 {
		op.Amount = r.Int64N(1<<40) - 1<<39
	}
	if r.IntN(2) == 0 {
		op.Note = pick(r, universe)
	}
	return op
}

// opLogModel is the reference model: the value is the sum of uniquely
// identified operations. A replica-numbered operation gets a fresh id from
// the run's id source; a session's operation is identified by its OpID.
type opLogModel struct {
	ids *int
	ops map[any]int64
}

func (m *opLogModel) clone() model {
	c := &opLogModel{ids: m.ids, ops: make(map[any]int64, len(m.ops))}
	for k, v := range m.ops {
		c.ops[k] = v
	}
	return c
}

func (m *opLogModel) apply(op Op, _ vclock.Actor, _ model) bool {
	o := op.(OpLogOp)
	if o.ID.IsZero() {
		*m.ids++
		m.ops[*m.ids] = o.Amount
	} else if _, ok := m.ops[o.ID]; !ok {
		m.ops[o.ID] = o.Amount
	}
	return false
}

func (m *opLogModel) merge(o model) {
	for k, v := range o.(*opLogModel).ops {
		m.ops[k] = v
	}
}

func (m *opLogModel) value() any {
	var s int64
	for _, v := range m.ops {
		s += v
	}
	return OpLogValue{Balance: s, Version: uint64(len(m.ops))}
}

func TestLawsOpLog(t *testing.T) { checkLaws(t, specs[KindOpLog]) }

func oplog(t testing.TB, l *OpLog, amount int64, a vclock.Actor) OpID {
	t.Helper()
	id, err := l.Apply(OpLogOp{Amount: amount}, a)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestOpLogBasics(t *testing.T) {
	l := &OpLog{}
	wantValue(t, l, OpLogValue{})
	id1, err := l.Apply(OpLogOp{Amount: 100, Note: "opening deposit"}, aA)
	if err != nil {
		t.Fatal(err)
	}
	id2 := oplog(t, l, -30, aA)
	if id1 != (OpID{aA, 1}) || id2 != (OpID{aA, 2}) {
		t.Fatalf("ids %v %v", id1, id2)
	}
	mustApply(t, l, OpLogOp{Note: "statement sent"}, aA, Context{}) // an operation, counted in the version
	wantValue(t, l, OpLogValue{Balance: 70, Version: 3})
	if !l.Has(id2) || l.Has(OpID{aA, 4}) || l.Has(OpID{aB, 1}) || l.Has(OpID{aA, 0}) {
		t.Fatal("Has wrong")
	}
	rec := l.Recent()
	if len(rec) != 3 || rec[0].Note != "statement sent" || rec[2].Note != "opening deposit" || rec[1].Amount != -30 || rec[1].Lamport != 2 {
		t.Fatalf("recent %+v", rec)
	}
	if st := l.Stats(); st != (Stats{Actors: 1, Elements: 3}) {
		t.Fatalf("stats %+v", st)
	}
	if !l.Context().IsZero() {
		t.Fatal("an op-log has no context")
	}
	before := enc(t, l)
	for name, tc := range map[string]struct {
		op    Op
		actor vclock.Actor
		want  error
	}{
		"zero actor":        {OpLogOp{Amount: 1}, vclock.Actor{}, ErrInvalidActor},
		"long note":         {OpLogOp{Amount: 1, Note: strings.Repeat("n", MaxOpNote+1)}, aA, ErrInvalidOp},
		"counter op":        {CounterOp{Delta: 1}, aA, ErrTypeMismatch},
		"zero seq":          {OpLogOp{Amount: 1, ID: OpID{Actor: sessions[0]}}, aA, ErrInvalidOp},
		"zero id actor":     {OpLogOp{Amount: 1, ID: OpID{Seq: 4}}, aA, ErrInvalidOp},
		"own actor as id":   {OpLogOp{Amount: 1, ID: OpID{aA, 9}}, aA, ErrInvalidOp},
		"balance overflows": {OpLogOp{Amount: math.MaxInt64}, aA, ErrOverflow},
	} {
		if err := l.ApplyOp(tc.op, tc.actor, Context{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
		if !bytes.Equal(before, enc(t, l)) {
			t.Fatalf("%s: a failed apply changed the value", name)
		}
	}
	if err := l.Merge(&Counter{}); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("merge with a counter: %v", err)
	}
	// A note of exactly MaxOpNote bytes is fine.
	mustApply(t, l, OpLogOp{Note: strings.Repeat("n", MaxOpNote)}, aA, Context{})
	roundTrip(t, l)
}

// TestOpLogMergeCountsEachOpOnce: stale copies, sibling copies and
// repeated merges never count an operation twice.
func TestOpLogMergeCountsEachOpOnce(t *testing.T) {
	a, b := &OpLog{}, &OpLog{}
	oplog(t, a, 1, aA)
	stale := a.Clone()
	oplog(t, a, 2, aA)
	oplog(t, b, 10, aB)
	mustMerge(t, b, stale) // b holds A1 only
	oplog(t, b, 20, aB)
	for range 3 {
		mustMerge(t, a, b)
		mustMerge(t, a, stale)
		mustMerge(t, b, a)
	}
	wantValue(t, a, OpLogValue{Balance: 33, Version: 4})
	sameBytes(t, "converged", a, b)
	if a.Pending() != 0 {
		t.Fatal("replica-numbered ops left gaps")
	}
}

// TestOpLogSessionIDs: a client session numbers its operations and
// re-sends those its reads do not show; each counts once, gaps wait for the
// missing operation and fold when it arrives.
func TestOpLogSessionIDs(t *testing.T) {
	s := sessions[0]
	op := func(seq uint64, amount int64) OpLogOp { return OpLogOp{ID: OpID{s, seq}, Amount: amount} }
	a, b := &OpLog{}, &OpLog{}
	mustApply(t, a, op(1, 5), aA, Context{})
	mustApply(t, b, op(1, 5), aB, Context{}) // the ack was lost: re-sent to another replica
	mustApply(t, a, op(1, 5), aA, Context{}) // and again to the first: a no-op
	wantValue(t, a, OpLogValue{Balance: 5, Version: 1})
	mustApply(t, b, op(3, 7), aB, Context{}) // op 2 went to a replica b has not heard from
	if b.Pending() != 1 || !b.Has(OpID{s, 3}) || b.Has(OpID{s, 2}) {
		t.Fatalf("pending %d", b.Pending())
	}
	wantValue(t, b, OpLogValue{Balance: 12, Version: 2})
	// A conflicting amount for a held id is refused; for a folded one it
	// cannot be detected and is a no-op.
	if _, err := b.Apply(op(3, 8), aB); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("conflicting re-send: %v", err)
	}
	before := enc(t, b)
	if _, err := b.Apply(op(1, 99), aB); err != nil || !bytes.Equal(before, enc(t, b)) {
		t.Fatalf("re-send of a folded id: %v", err)
	}
	mustApply(t, a, op(2, 11), aA, Context{})
	mustMerge(t, b, a)
	mustMerge(t, a, b)
	wantValue(t, b, OpLogValue{Balance: 23, Version: 3})
	if b.Pending() != 0 || a.Pending() != 0 {
		t.Fatal("the gap did not fold")
	}
	sameBytes(t, "converged", a, b)
	// The audit trail holds op 1 once although two replicas applied it.
	n := 0
	for _, r := range a.Recent() {
		if r.ID == (OpID{s, 1}) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("op 1 appears %d times in the audit trail", n)
	}
}

func TestOpLogPendingLimit(t *testing.T) {
	l := &OpLog{}
	for i := range MaxPendingOps {
		mustApply(t, l, OpLogOp{ID: OpID{sessions[i%2], uint64(2 + i/2)}, Amount: 1}, aA, Context{})
	}
	before := enc(t, l)
	_, err := l.Apply(OpLogOp{ID: OpID{sessions[0], 5000}, Amount: 1}, aA)
	if !errors.Is(err, ErrTooManyDeferred) || !bytes.Equal(before, enc(t, l)) {
		t.Fatalf("err %v", err)
	}
	// Operations without a gap are still accepted, and merges never refuse.
	mustApply(t, l, OpLogOp{Amount: 1}, aA, Context{})
	o := &OpLog{}
	mustApply(t, o, OpLogOp{ID: OpID{sessions[0], 9000}, Amount: 1}, aB, Context{})
	mustMerge(t, l, o)
	if l.Pending() != MaxPendingOps+1 {
		t.Fatalf("pending %d", l.Pending())
	}
	roundTrip(t, l)
	// The missing first operations fold every gap away.
	for _, s := range sessions {
		mustApply(t, l, OpLogOp{ID: OpID{s, 1}, Amount: 1}, aA, Context{})
	}
	if l.Pending() != 1 { // 9000 still waits
		t.Fatalf("pending %d", l.Pending())
	}
}

// TestOpLogAuditTrail: the trail keeps the last OpLogAuditSize operations
// in an order that extends causality, and merges keep the last of both.
func TestOpLogAuditTrail(t *testing.T) {
	a, b := &OpLog{}, &OpLog{}
	for i := range 40 {
		if _, err := a.Apply(OpLogOp{Amount: 1, Note: fmt.Sprint("a", i)}, aA); err != nil {
			t.Fatal(err)
		}
	}
	if r := a.Recent(); len(r) != OpLogAuditSize || r[0].Note != "a39" || r[OpLogAuditSize-1].Note != "a8" {
		t.Fatalf("trail %v … %v", r[0], r[len(r)-1])
	}
	oplog(t, b, 5, aB) // concurrent with all of a's
	mustMerge(t, b, a)
	if r := b.Recent(); len(r) != OpLogAuditSize || r[0].Note != "a39" {
		t.Fatalf("trail after merge starts with %v", r[0])
	}
	// An operation made after the merge sorts after everything b had seen.
	if _, err := b.Apply(OpLogOp{Amount: 1, Note: "after"}, aB); err != nil {
		t.Fatal(err)
	}
	if r := b.Recent(); r[0].Note != "after" || r[0].Lamport != 41 {
		t.Fatalf("newest %+v", r[0])
	}
	wantValue(t, b, OpLogValue{Balance: 46, Version: 42})
}

// TestOpLogSizeBounded: after many operations from vnodes and sessions and
// a full exchange, nothing waits in a gap and the encoding is O(actors)
// plus the audit trail: as large after 30,000 operations as after 300,
// give or take the counters' varints.
func TestOpLogSizeBounded(t *testing.T) {
	r := newRand(t)
	actors := []vclock.Actor{{ID: 1, Epoch: 1}, {ID: 2, Epoch: 1}, {ID: 3, Epoch: 1}}
	run := func(ops int) int {
		reps := []*OpLog{{}, {}, {}}
		next := map[vclock.Actor]uint64{}
		for i := range ops {
			k := r.IntN(3)
			op := OpLogOp{Amount: r.Int64N(100), Note: "deposit"}
			if r.IntN(4) == 0 { // a session's op, sometimes sent twice
				s := sessions[r.IntN(2)]
				next[s]++
				op.ID = OpID{s, next[s]}
				if r.IntN(3) == 0 {
					mustApply(t, reps[(k+1)%3], op, actors[(k+1)%3], Context{})
				}
			}
			mustApply(t, reps[k], op, actors[k], Context{})
			if i%5 == 4 {
				mustMerge(t, reps[r.IntN(3)], reps[r.IntN(3)])
			}
		}
		for _, x := range reps {
			for _, y := range reps {
				mustMerge(t, x, y)
			}
		}
		for _, x := range reps {
			if x.Pending() != 0 || x.Version() != uint64(ops) {
				t.Fatalf("pending %d, version %d of %d", x.Pending(), x.Version(), ops)
			}
		}
		return len(enc(t, reps[0]))
	}
	small, big := run(300), run(30_000)
	t.Logf("encoded size after 300 ops: %d bytes; after 30,000: %d bytes", small, big)
	// 5 actors × ≤ 2 more varint bytes each for upto and sum, 32 audit
	// records × ≤ 2 more bytes for seq and Lamport.
	if big > small+5*4+OpLogAuditSize*4 || big > 1024 {
		t.Fatalf("size grew from %d to %d bytes", small, big)
	}
}

func TestOpLogEncoding(t *testing.T) {
	l := &OpLog{}
	if _, err := l.Apply(OpLogOp{Amount: 5, Note: "x"}, aA); err != nil {
		t.Fatal(err)
	}
	// O 1 | 1 actor: (0a 01) upto 1, sum 5 (zigzag 0a), 0 gaps | 1 record:
	// actor 0, seq 1, Lamport 1, amount 5, note "x"
	want := []byte{'O', 1, 1, 0x0a, 1, 1, 0x0a, 0, 1, 0, 1, 1, 0x0a, 1, 'x'}
	if got := enc(t, l); !bytes.Equal(got, want) {
		t.Fatalf("encoding %x, want %x", got, want)
	}
	if b, _ := (&OpLog{}).MarshalBinary(); !bytes.Equal(b, []byte{'O', 1, 0, 0}) {
		t.Fatalf("empty %x", b)
	}
	mk := func(b ...byte) []byte { return append([]byte{'O', 1}, b...) }
	thirtyThree := mk(1, 0x0a, 1, 33, 0, 0, 33)
	for s := byte(1); s <= 33; s++ {
		thirtyThree = append(thirtyThree, 0, s, s, 0, 0)
	}
	for name, in := range map[string][]byte{
		"contiguous gap":        mk(1, 0x0a, 1, 1, 0, 1, 2, 2, 0),
		"gap below prefix":      mk(1, 0x0a, 1, 3, 0, 1, 2, 2, 0),
		"gaps out of order":     mk(1, 0x0a, 1, 0, 0, 2, 5, 2, 4, 2, 0),
		"duplicate gaps":        mk(1, 0x0a, 1, 0, 0, 2, 4, 2, 4, 2, 0),
		"empty actor":           mk(1, 0x0a, 1, 0, 0, 0, 0),
		"sum without prefix":    mk(1, 0x0a, 1, 0, 2, 1, 3, 2, 0),
		"unsorted actors":       mk(2, 0x0b, 1, 1, 0, 0, 0x0a, 1, 1, 0, 0, 0),
		"zero actor":            mk(1, 0, 0, 1, 0, 0, 0),
		"audit of unknown op":   mk(1, 0x0a, 1, 1, 0, 0, 1, 0, 2, 1, 0, 0),
		"audit actor range":     mk(1, 0x0a, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0),
		"audit zero seq":        mk(1, 0x0a, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0),
		"audit zero Lamport":    mk(1, 0x0a, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0),
		"audit duplicate id":    mk(1, 0x0a, 1, 1, 0, 0, 2, 0, 1, 1, 0, 0, 0, 1, 2, 0, 0),
		"audit out of order":    mk(1, 0x0a, 1, 2, 0, 0, 2, 0, 1, 2, 0, 0, 0, 2, 1, 0, 0),
		"audit of 33 records":   thirtyThree,
		"note too long":         append(mk(1, 0x0a, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0x81, 2), bytes.Repeat([]byte{'n'}, 257)...),
		"non-minimal varint":    mk(1, 0x8a, 0, 1, 1, 0, 0, 0),
		"trailing byte":         append(bytes.Clone(want), 0),
		"future version":        {'O', 2, 0, 0},
		"truncated audit count": mk(1, 0x0a, 1, 1, 0, 0),
	} {
		if _, err := Unmarshal(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %x accepted (%v)", name, in, err)
		}
		if err := (&OpLog{}).UnmarshalBinary(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %x accepted by OpLog (%v)", name, in, err)
		}
	}
	if err := (&OpLog{}).UnmarshalBinary([]byte{'C', 1, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("a counter accepted as an op-log: %v", err)
	}
	// 32 records decode.
	ok := mk(1, 0x0a, 1, 32, 0, 0, 32)
	for s := byte(1); s <= 32; s++ {
		ok = append(ok, 0, s, s, 0, 0)
	}
	if v, err := Unmarshal(ok); err != nil {
		t.Fatalf("32 records refused: %v", err)
	} else {
		roundTrip(t, v)
	}
}

func TestOpLogHostileEncodings(t *testing.T)    { checkHostileEncodings(t, KindOpLog) }
func TestBCounterHostileEncodings(t *testing.T) { checkHostileEncodings(t, KindBCounter) }

func FuzzUnmarshalOpLog(f *testing.F) { fuzzDecoder(f, KindOpLog) }

// TestNewKindsRegistered: names, tags, New and Unmarshal know the new kinds,
// and they cannot be map fields.
func TestNewKindsRegistered(t *testing.T) {
	for _, tc := range []struct {
		k    Kind
		name string
		tag  byte
	}{{KindOpLog, "oplog", 'O'}, {KindBCounter, "bcounter", 'B'}} {
		if tc.k.String() != tc.name || byte(tc.k) != tc.tag || !tc.k.Valid() || tc.k.Embeddable() {
			t.Errorf("%v: name %q tag %c valid %v embeddable %v", tc.k, tc.k.String(), byte(tc.k), tc.k.Valid(), tc.k.Embeddable())
		}
		if k, ok := ParseKind(tc.name); !ok || k != tc.k {
			t.Errorf("ParseKind(%q) = %v, %v", tc.name, k, ok)
		}
		v, err := New(tc.k)
		if err != nil || v.Kind() != tc.k {
			t.Fatalf("New(%v): %v", tc.k, err)
		}
		w, err := Unmarshal(enc(t, v))
		if err != nil || !reflect.DeepEqual(w.Value(), v.Value()) {
			t.Fatalf("Unmarshal empty %v: %v", tc.k, err)
		}
		if _, err := ParseField("x_" + tc.name); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("%s accepted as a map field type", tc.name)
		}
	}
	for _, op := range []Op{OpLogOp{Amount: -1}, BCounterOp{Delta: -1}, BTransferOp{To: aB, Amount: 1}} {
		if RequiresContext(op) || validateOp(op, 1) != nil {
			t.Errorf("%#v: needs a context or is invalid", op)
		}
	}
	// A map refuses the new ops in a field.
	m := &Map{}
	err := m.Apply(MapOp{}.Update(Field{Name: "b", Type: KindOpLog}, OpLogOp{Amount: 1}), aA, Context{})
	if !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("op-log field in a map: %v", err)
	}
}
