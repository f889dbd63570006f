package dt

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/vclock"
)

// OpLog is the versioned op-log register (VOLR) of the reference's §5.4 in
// its commutative form: a balance made of uniquely identified deposits and
// withdrawals. It replaces the "{version, balance, last_op}" sibling
// resolution scheme, which loses or double-applies operations as soon as a
// branch holds more than one unseen operation or two clients resolve the
// same siblings (the tests replay both traces).
//
// Every operation has an identity, an OpID (actor, seq): the actor is a
// sequential, durable writer (normally the coordinating vnode's actor, as
// for every other type), and seq is that actor's next number, assigned by
// Apply from what the value holds. A client session may instead name its
// own operations (OpLogOp.ID); applying an operation whose id the value
// already holds is a no-op, so a session can re-include its own operations
// until a read shows them, and a retry never applies twice.
//
// The state is, per actor, a compacted prefix (ops 1..Upto folded into one
// Sum), plus the actor's operations above a gap (held individually until
// the missing ones arrive), plus an audit trail of the last OpLogAuditSize
// operations with their notes, for display only. Merge takes each actor's
// longer prefix, unites the held operations and folds every operation that
// has become contiguous into its actor's prefix (eager compaction: ops
// 1..n of one actor never change, so a contiguous run is stable). The
// result is the union of the two sides' operations in one canonical form:
// merge is commutative, associative and idempotent, and every operation is
// counted exactly once however many siblings or replicas carry it. With
// full-state replication no gaps arise between vnode actors; they arise
// only with client-named ids, and vanish once every replica has exchanged
// state, leaving O(actors) bytes plus the audit trail.
//
// The audit trail keeps the OpLogAuditSize operations that are last in
// Lamport order (each operation's Lamport time is one more than the
// largest the applying replica knew, so an operation sorts after every
// operation its replica had seen). It is the top of a total order over the
// union of both sides, so it too merges as a join.
//
// OpLog does not keep a balance non-negative: two concurrent withdrawals
// may both be applied. Use BCounter (escrow) where overdraft must be
// impossible.
type OpLog struct {
	actors []opActor  // sorted by actor; each has upto > 0 or gaps
	audit  []OpRecord // ascending by opRecordCompare, distinct ids, ≤ OpLogAuditSize
}

// OpID names one operation of an OpLog: the Seq-th operation of Actor.
type OpID struct {
	Actor vclock.Actor
	Seq   uint64
}

// IsZero reports whether id is the zero OpID ("no id").
func (id OpID) IsZero() bool { return id.Seq == 0 && id.Actor.IsZero() }

// String formats the id as actor#seq.
func (id OpID) String() string { return fmt.Sprintf("%s#%d", id.Actor, id.Seq) }

// OpRecord is one operation in an OpLog's audit trail.
type OpRecord struct {
	ID      OpID
	Lamport uint64 // 1 + the largest Lamport time the applying replica knew
	Amount  int64
	Note    string
}

// OpLogValue is an OpLog's client-visible value.
type OpLogValue struct {
	Balance int64  `json:"balance"`
	Version uint64 `json:"version"` // number of operations reflected; display only
}

// OpLogOp deposits (Amount > 0) or withdraws (Amount < 0) at an OpLog; a
// zero Amount records only the note. Every Apply of an OpLogOp is one
// operation, counted in the version.
type OpLogOp struct {
	Amount int64
	// Note is kept with the operation in the audit trail (at most
	// MaxOpNote bytes).
	Note string
	// ID, if not zero, is the identity a client session chose for the
	// operation: Seq ≥ 1, and the actor must be the session's own (never a
	// vnode's, so never the applying actor). A session numbers its
	// operations 1, 2, 3… and re-sends any that its reads do not yet show;
	// an id the value already holds is not applied again. If zero, the
	// applying actor's next sequence number is used.
	ID OpID
}

// Kind reports KindOpLog.
func (OpLogOp) Kind() Kind { return KindOpLog }
func (OpLogOp) isOp()      {}

const (
	// OpLogAuditSize is the number of operations an OpLog's audit trail
	// keeps.
	OpLogAuditSize = 32
	// MaxOpNote bounds an operation's note, in bytes.
	MaxOpNote = 256
	// MaxPendingOps bounds the operations one OpLog holds above a gap (an
	// operation whose actor's earlier operation it has not seen) because of
	// local Applies; beyond it Apply fails with ErrTooManyDeferred. Merges
	// never refuse.
	MaxPendingOps = 1024
)

type opActor struct {
	actor vclock.Actor
	upto  uint64  // ops 1..upto are folded into sum
	sum   int64   // Σ amounts of ops 1..upto (wrapping)
	gaps  []opGap // ops with seq > upto+1, sorted by seq; never modified in place
}

type opGap struct {
	seq    uint64
	amount int64
}

// opRecordCompare is the audit trail's total order: Lamport time, then id,
// then payload (the payload matters only for conflicting copies of one id,
// which valid states never hold).
func opRecordCompare(a, b OpRecord) int {
	if c := cmp.Compare(a.Lamport, b.Lamport); c != 0 {
		return c
	}
	if c := compareActor(a.ID.Actor, b.ID.Actor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID.Seq, b.ID.Seq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Amount, b.Amount); c != 0 {
		return c
	}
	return strings.Compare(a.Note, b.Note)
}

// Kind reports KindOpLog.
func (*OpLog) Kind() Kind { return KindOpLog }

func (l *OpLog) find(a vclock.Actor) (int, bool) {
	return slices.BinarySearchFunc(l.actors, a, func(x opActor, a vclock.Actor) int { return compareActor(x.actor, a) })
}

// known reports whether x holds operation seq.
func (x *opActor) known(seq uint64) bool {
	if seq <= x.upto {
		return true
	}
	_, ok := x.gap(seq)
	return ok
}

func (x *opActor) gap(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(x.gaps, seq, func(g opGap, s uint64) int { return cmp.Compare(g.seq, s) })
}

// last returns the largest sequence number x holds.
func (x *opActor) last() uint64 {
	if len(x.gaps) > 0 {
		return x.gaps[len(x.gaps)-1].seq
	}
	return x.upto
}

// fold moves operations that have become contiguous with the prefix into
// it. It may reuse x.gaps' backing array only by reslicing.
func (x *opActor) fold() {
	n := 0
	for n < len(x.gaps) && x.upto < math.MaxUint64 && x.gaps[n].seq == x.upto+1 {
		x.upto++
		x.sum += x.gaps[n].amount
		n++
	}
	if n > 0 {
		x.gaps = x.gaps[n:]
		if len(x.gaps) == 0 {
			x.gaps = nil
		}
	}
}

func (l *OpLog) pending() int {
	n := 0
	for i := range l.actors {
		n += len(l.actors[i].gaps)
	}
	return n
}

func (l *OpLog) maxLamport() uint64 {
	if len(l.audit) == 0 {
		return 0
	}
	return l.audit[len(l.audit)-1].Lamport
}

// Apply applies op at this replica for actor and returns the operation's
// id. Without op.ID the operation is actor's next one; with it, an id the
// value already holds changes nothing (and returns that id). It fails,
// changing nothing, with ErrInvalidActor for the zero actor, ErrInvalidOp
// for a note longer than MaxOpNote, an invalid client id or a known id
// sent with a different amount, ErrOverflow if the local balance would
// leave the int64 range or the actor has no sequence numbers left, and
// ErrTooManyDeferred beyond MaxPendingOps.
func (l *OpLog) Apply(op OpLogOp, actor vclock.Actor) (OpID, error) {
	if err := checkActor(actor); err != nil {
		return OpID{}, err
	}
	if len(op.Note) > MaxOpNote {
		return OpID{}, fmt.Errorf("%w: op-log note of %d bytes (limit %d)", ErrInvalidOp, len(op.Note), MaxOpNote)
	}
	id := op.ID
	i, found := l.find(id.Actor)
	if id.IsZero() {
		id.Actor = actor
		i, found = l.find(actor)
		var last uint64
		if found {
			last = l.actors[i].last()
		}
		if last == math.MaxUint64 {
			return OpID{}, fmt.Errorf("%w: actor %s has no operations left", ErrOverflow, actor)
		}
		id.Seq = last + 1
	} else {
		switch {
		case id.Seq == 0 || id.Actor.IsZero():
			return OpID{}, fmt.Errorf("%w: op-log id %s", ErrInvalidOp, id)
		case id.Actor == actor:
			return OpID{}, fmt.Errorf("%w: op-log id %s names the applying vnode's actor; client ids need their own actor", ErrInvalidOp, id)
		}
		if found {
			x := &l.actors[i]
			if id.Seq <= x.upto {
				return id, nil
			}
			if k, ok := x.gap(id.Seq); ok {
				if x.gaps[k].amount != op.Amount {
					return OpID{}, fmt.Errorf("%w: op-log id %s already holds amount %d, not %d", ErrInvalidOp, id, x.gaps[k].amount, op.Amount)
				}
				return id, nil
			}
		}
	}
	bal := l.Balance()
	if nb := bal + op.Amount; (op.Amount > 0 && nb < bal) || (op.Amount < 0 && nb > bal) {
		return OpID{}, fmt.Errorf("%w: balance %d %+d", ErrOverflow, bal, op.Amount)
	}
	var x opActor
	if found {
		x = l.actors[i]
	} else {
		x.actor = id.Actor
	}
	if id.Seq == x.upto+1 {
		x.upto++
		x.sum += op.Amount
		x.fold()
	} else {
		if l.pending() >= MaxPendingOps {
			return OpID{}, fmt.Errorf("%w: %d op-log operations already wait for earlier ones", ErrTooManyDeferred, MaxPendingOps)
		}
		k, _ := x.gap(id.Seq)
		x.gaps = slices.Insert(slices.Clone(x.gaps), k, opGap{seq: id.Seq, amount: op.Amount})
	}
	if found {
		l.actors[i] = x
	} else {
		l.actors = slices.Insert(l.actors, i, x)
	}
	rec := OpRecord{ID: id, Lamport: l.maxLamport() + 1, Amount: op.Amount, Note: op.Note}
	if rec.Lamport == 0 { // a hostile value at the Lamport limit: keep the trail as it is
		return id, nil
	}
	l.audit = append(l.audit, rec)
	if len(l.audit) > OpLogAuditSize {
		l.audit = slices.Clone(l.audit[len(l.audit)-OpLogAuditSize:])
	}
	return id, nil
}

// ApplyOp applies an OpLogOp; ctx is ignored.
func (l *OpLog) ApplyOp(op Op, actor vclock.Actor, _ Context) error {
	o, ok := op.(OpLogOp)
	if !ok {
		return mismatch(KindOpLog, op)
	}
	_, err := l.Apply(o, actor)
	return err
}

// Balance returns the sum of every operation's amount (wrapping modulo
// 2^64 if merges carry it out of the int64 range; Apply refuses to).
func (l *OpLog) Balance() int64 {
	var s int64
	for i := range l.actors {
		s += l.actors[i].sum
		for _, g := range l.actors[i].gaps {
			s += g.amount
		}
	}
	return s
}

// Version returns the number of operations the value reflects. It is for
// display (a balance's "version"); merges never compare it.
func (l *OpLog) Version() uint64 {
	var n uint64
	for i := range l.actors {
		n += l.actors[i].upto + uint64(len(l.actors[i].gaps))
	}
	return n
}

// Has reports whether the value reflects operation id: a session can check
// that a read shows its acknowledged operations.
func (l *OpLog) Has(id OpID) bool {
	i, ok := l.find(id.Actor)
	return ok && id.Seq > 0 && l.actors[i].known(id.Seq)
}

// Pending returns the number of operations held above a gap.
func (l *OpLog) Pending() int { return l.pending() }

// Recent returns the audit trail, newest first (a new slice).
func (l *OpLog) Recent() []OpRecord {
	out := slices.Clone(l.audit)
	slices.Reverse(out)
	return out
}

// Value returns an OpLogValue.
func (l *OpLog) Value() any { return OpLogValue{Balance: l.Balance(), Version: l.Version()} }

// Context returns the zero Context: operations commute and need none.
func (*OpLog) Context() Context { return Context{} }

// Merge joins other into l: per actor the longer prefix, the union of the
// held operations, contiguous ones folded; the audit trail keeps the last
// OpLogAuditSize distinct operations of both.
func (l *OpLog) Merge(other CRDT) error {
	o, ok := other.(*OpLog)
	if !ok {
		return mismatch(KindOpLog, other)
	}
	if o == nil || o == l {
		return nil
	}
	out := make([]opActor, 0, max(len(l.actors), len(o.actors)))
	i, j := 0, 0
	for i < len(l.actors) || j < len(o.actors) {
		switch {
		case j == len(o.actors) || (i < len(l.actors) && l.actors[i].actor.Less(o.actors[j].actor)):
			out = append(out, l.actors[i])
			i++
		case i == len(l.actors) || o.actors[j].actor.Less(l.actors[i].actor):
			x := o.actors[j]
			x.gaps = slices.Clone(x.gaps)
			out = append(out, x)
			j++
		default:
			out = append(out, joinOpActor(l.actors[i], o.actors[j]))
			i++
			j++
		}
	}
	l.actors = out
	l.audit = joinAudit(l.audit, o.audit)
	return nil
}

// joinOpActor joins two states of one actor into new memory.
func joinOpActor(a, b opActor) opActor {
	x := opActor{actor: a.actor, upto: a.upto, sum: a.sum}
	switch {
	case b.upto > a.upto:
		x.upto, x.sum = b.upto, b.sum
	case b.upto == a.upto:
		x.sum = max(a.sum, b.sum) // equal in valid states; deterministic otherwise
	}
	var gaps []opGap
	p, q := 0, 0
	for p < len(a.gaps) || q < len(b.gaps) {
		var g opGap
		switch {
		case q == len(b.gaps) || (p < len(a.gaps) && a.gaps[p].seq < b.gaps[q].seq):
			g = a.gaps[p]
			p++
		case p == len(a.gaps) || b.gaps[q].seq < a.gaps[p].seq:
			g = b.gaps[q]
			q++
		default:
			g = opGap{seq: a.gaps[p].seq, amount: max(a.gaps[p].amount, b.gaps[q].amount)}
			p++
			q++
		}
		if g.seq > x.upto {
			gaps = append(gaps, g)
		}
	}
	x.gaps = gaps
	x.fold()
	return x
}

// joinAudit returns the last OpLogAuditSize distinct ids of a ∪ b, each
// with its greatest record: the top of a total order over a union, so a
// join. Both inputs are sorted ascending.
func joinAudit(a, b []OpRecord) []OpRecord {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make([]OpRecord, 0, min(len(a)+len(b), OpLogAuditSize))
	i, j := len(a)-1, len(b)-1
	for (i >= 0 || j >= 0) && len(out) < OpLogAuditSize {
		var r OpRecord
		switch c := 0; {
		case j < 0:
			r, i = a[i], i-1
		case i < 0:
			r, j = b[j], j-1
		default:
			if c = opRecordCompare(a[i], b[j]); c >= 0 {
				r, i = a[i], i-1
				if c == 0 {
					j--
				}
			} else {
				r, j = b[j], j-1
			}
		}
		if !hasOpID(out, r.ID) { // an id's greatest record comes first
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	return out
}

func hasOpID(rs []OpRecord, id OpID) bool {
	for k := range rs {
		if rs[k].ID == id {
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (l *OpLog) Clone() CRDT {
	c := &OpLog{actors: slices.Clone(l.actors), audit: slices.Clone(l.audit)}
	for i := range c.actors {
		c.actors[i].gaps = slices.Clone(c.actors[i].gaps)
	}
	return c
}

// Equal reports whether other is an OpLog with the same state.
func (l *OpLog) Equal(other CRDT) bool { return equalEncoding(l, other) }

// Stats reports actors, audit records (Elements) and operations held above
// a gap (Deferred).
func (l *OpLog) Stats() Stats {
	return Stats{Actors: len(l.actors), Elements: len(l.audit), Deferred: l.pending()}
}

// MarshalBinary encodes the value: tag 'O', version, then the actors in
// order, each as (id, epoch, upto, sum, gap count, gaps as (seq, amount)),
// then the audit trail in order, each record as (actor index, seq,
// Lamport, amount, note).
func (l *OpLog) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindOpLog, 2+len(l.actors)*16+len(l.audit)*16)
	e.uvarint(uint64(len(l.actors)))
	for _, x := range l.actors {
		e.actor(x.actor)
		e.uvarint(x.upto)
		e.varint(x.sum)
		e.uvarint(uint64(len(x.gaps)))
		for _, g := range x.gaps {
			e.uvarint(g.seq)
			e.varint(g.amount)
		}
	}
	e.uvarint(uint64(len(l.audit)))
	for _, r := range l.audit {
		i, _ := l.find(r.ID.Actor)
		e.uvarint(uint64(i))
		e.uvarint(r.ID.Seq)
		e.uvarint(r.Lamport)
		e.varint(r.Amount)
		e.str(r.Note)
	}
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT). Besides
// the canonical layout it checks that every actor holds an operation, no
// held operation is contiguous with its prefix, and the audit trail holds
// at most OpLogAuditSize records of distinct operations the value holds.
func (l *OpLog) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindOpLog)
	n := d.count(5)
	var v OpLog
	if n > 0 {
		v.actors = make([]opActor, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		x := opActor{actor: d.actor()}
		x.upto = d.uvarint()
		x.sum = d.varint()
		m := d.count(2)
		if m > 0 {
			x.gaps = make([]opGap, 0, m)
		}
		for k := 0; k < m && d.err == nil; k++ {
			g := opGap{seq: d.uvarint(), amount: d.varint()}
			// A held operation leaves a gap above the prefix; held
			// operations are in order.
			ok := x.upto < math.MaxUint64 && g.seq > x.upto+1
			if k > 0 {
				ok = g.seq > x.gaps[k-1].seq
			}
			if d.err == nil && !ok {
				d.fail("op-log operation %d out of order or contiguous", g.seq)
			}
			x.gaps = append(x.gaps, g)
		}
		if d.err != nil {
			break
		}
		if x.upto == 0 && (x.sum != 0 || len(x.gaps) == 0) {
			d.fail("empty op-log actor")
		}
		if i > 0 && !v.actors[i-1].actor.Less(x.actor) {
			d.fail("op-log actors out of order")
		}
		v.actors = append(v.actors, x)
	}
	m := d.count(5)
	if d.err == nil && m > OpLogAuditSize {
		d.fail("audit trail of %d records", m)
	}
	if m > 0 && d.err == nil {
		v.audit = make([]OpRecord, 0, m)
	}
	for k := 0; k < m && d.err == nil; k++ {
		ai := d.uvarint()
		seq := d.uvarint()
		r := OpRecord{Lamport: d.uvarint(), Amount: d.varint(), Note: d.str()}
		if d.err != nil {
			break
		}
		if ai >= uint64(len(v.actors)) || !v.actors[ai].known(seq) || seq == 0 {
			d.fail("audit record of an operation the value does not hold")
			break
		}
		r.ID = OpID{Actor: v.actors[ai].actor, Seq: seq}
		switch {
		case r.Lamport == 0 || len(r.Note) > MaxOpNote || hasOpID(v.audit, r.ID):
			d.fail("invalid audit record")
		case k > 0 && opRecordCompare(v.audit[k-1], r) >= 0:
			d.fail("audit trail out of order")
		}
		v.audit = append(v.audit, r)
	}
	if err := d.finish(); err != nil {
		return err
	}
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*l = v
	return nil
}
