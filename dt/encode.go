package dt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// Binary layout shared by every type (all integers are minimal varints):
//
//	tag byte (the Kind) | version byte | payload
//
// Types with a causal context (set, flag, map) start their payload with an
// actor table, the sorted unique actors of their clock and deferred
// contexts, each written once as (id, epoch); the clock follows as one
// counter per table actor (0 = absent), and every dot afterwards is
// (actor index, counter). That removes the repeated-actor bloat of
// riak_dt_map. Collections are written sorted, so equal states encode to
// equal bytes, and decoders accept only that canonical form: they re-encode
// what they decoded and compare.

// encodingVersion is the current version byte of every type's encoding.
// Bump it per type, and keep decoding the old one, if a layout changes.
const encodingVersion = 1

func appendUvarint(b []byte, u uint64) []byte { return binary.AppendUvarint(b, u) }

// encoder builds one value's encoding.
type encoder struct {
	b   []byte
	idx map[vclock.Actor]uint64 // actor table: actor → index
}

func newEncoder(k Kind, hint int) *encoder {
	e := &encoder{b: make([]byte, 0, hint+2)}
	e.b = append(e.b, byte(k), encodingVersion)
	return e
}

func (e *encoder) byte(c byte)      { e.b = append(e.b, c) }
func (e *encoder) uvarint(u uint64) { e.b = binary.AppendUvarint(e.b, u) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) actor(a vclock.Actor) {
	e.uvarint(a.ID)
	e.uvarint(uint64(a.Epoch))
}

// causalHeader writes the actor table (clock actors plus the actors of the
// deferred contexts) and the clock.
func (e *encoder) causalHeader(clock vclock.VClock, def deferredList) {
	actors := clock.Actors()
	for _, d := range def {
		for _, en := range d.ctx {
			actors = append(actors, en.Actor)
		}
	}
	slices.SortFunc(actors, compareActor)
	actors = slices.Compact(actors)
	e.idx = make(map[vclock.Actor]uint64, len(actors))
	e.uvarint(uint64(len(actors)))
	for i, a := range actors {
		e.idx[a] = uint64(i)
		e.actor(a)
	}
	for _, a := range actors {
		e.uvarint(clock.Get(a))
	}
}

func (e *encoder) dot(d vclock.Dot) {
	e.uvarint(e.idx[d.Actor])
	e.uvarint(d.Counter)
}

func (e *encoder) dots(ds dotSet) {
	e.uvarint(uint64(len(ds)))
	for _, d := range ds {
		e.dot(d)
	}
}

func (e *encoder) field(f Field) {
	e.str(f.Name)
	e.byte(byte(f.Type))
}

func (e *encoder) deferred(def deferredList) {
	e.uvarint(uint64(len(def)))
	for _, d := range def {
		e.uvarint(uint64(len(d.ctx)))
		for _, en := range d.ctx {
			e.uvarint(e.idx[en.Actor])
			e.uvarint(en.Counter)
		}
		e.uvarint(uint64(len(d.targets)))
		for _, t := range d.targets {
			e.uvarint(uint64(len(t.path)))
			for _, f := range t.path {
				e.field(f)
			}
			e.byte(byte(t.op))
			if t.op == targetElem {
				e.str(t.elem)
			}
		}
	}
}

// decoder reads one encoding. The first failure is kept in err; after it
// every read returns a zero value and count returns 0, so loops end.
type decoder struct {
	b      []byte
	err    error
	actors []vclock.Actor // actor table
	clock  []uint64       // clock counter per table actor
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 || (k > 1 && d.b[k-1] == 0) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 || (k > 1 && d.b[k-1] == 0) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return v
}

// count reads a collection length and refuses lengths the remaining input
// cannot hold at minSize bytes per item: allocation stays proportional to
// the input.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail("count %d exceeds input", n)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes exceeds input", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) actor() vclock.Actor {
	id := d.uvarint()
	ep := d.uvarint()
	if d.err != nil {
		return vclock.Actor{}
	}
	if ep > math.MaxUint32 {
		d.fail("epoch out of range")
		return vclock.Actor{}
	}
	a := vclock.Actor{ID: id, Epoch: uint32(ep)}
	if a.IsZero() {
		d.fail("zero actor")
	}
	return a
}

// header checks the tag and version bytes.
func (d *decoder) header(k Kind) {
	if tag := d.byte(); d.err == nil && tag != byte(k) {
		d.fail("tag %d is not a %s", tag, k)
	}
	if v := d.byte(); d.err == nil && v != encodingVersion {
		d.fail("unknown %s encoding version %d", k, v)
	}
}

// causalHeader reads the actor table and clock written by
// encoder.causalHeader.
func (d *decoder) causalHeader() vclock.VClock {
	n := d.count(2)
	d.actors = make([]vclock.Actor, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		a := d.actor()
		if i > 0 && !d.actors[i-1].Less(a) {
			d.fail("actor table out of order")
		}
		d.actors = append(d.actors, a)
	}
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated clock")
		return nil
	}
	d.clock = make([]uint64, n)
	var vc vclock.VClock
	for i := range n {
		c := d.uvarint()
		d.clock[i] = c
		if c > 0 {
			vc = append(vc, vclock.Entry{Actor: d.actors[i], Counter: c})
		}
	}
	return vc
}

func (d *decoder) actorIndex() (int, bool) {
	i := d.uvarint()
	if d.err != nil {
		return 0, false
	}
	if i >= uint64(len(d.actors)) {
		d.fail("actor index %d out of range", i)
		return 0, false
	}
	return int(i), true
}

// dot reads a dot and checks that the clock covers it: a value never holds
// a dot its own clock has not seen.
func (d *decoder) dot() vclock.Dot {
	i, ok := d.actorIndex()
	c := d.uvarint()
	if !ok || d.err != nil {
		return vclock.Dot{}
	}
	if c == 0 || c > d.clock[i] {
		d.fail("dot %d@%d not covered by the clock", i, c)
		return vclock.Dot{}
	}
	return vclock.Dot{Actor: d.actors[i], Counter: c}
}

// dots reads a strictly sorted dot set; empty sets are refused unless
// allowEmpty.
func (d *decoder) dots(allowEmpty bool) dotSet {
	n := d.count(2)
	if d.err != nil {
		return nil
	}
	if n == 0 && !allowEmpty {
		d.fail("empty dot set")
		return nil
	}
	if n == 0 {
		return nil
	}
	ds := make(dotSet, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		x := d.dot()
		if i > 0 && !dotLess(ds[i-1], x) {
			d.fail("dot set out of order")
		}
		ds = append(ds, x)
	}
	return ds
}

func (d *decoder) field() Field {
	name := d.str()
	k := Kind(d.byte())
	if d.err == nil && !k.Embeddable() {
		d.fail("map field type %d", k)
	}
	return Field{Name: name, Type: k}
}

// deferred reads a deferred-operation list; valid reports whether a target
// suits the type being decoded.
func (d *decoder) deferred(valid func(target) bool) deferredList {
	n := d.count(3)
	var out deferredList
	for i := 0; i < n && d.err == nil; i++ {
		m := d.count(2)
		if d.err == nil && m == 0 {
			d.fail("empty deferred context")
		}
		ctx := make(vclock.VClock, 0, m)
		prev := -1
		for j := 0; j < m && d.err == nil; j++ {
			ai, ok := d.actorIndex()
			c := d.uvarint()
			if !ok || d.err != nil {
				break
			}
			if ai <= prev || c == 0 {
				d.fail("deferred context out of order or zero")
				break
			}
			prev = ai
			ctx = append(ctx, vclock.Entry{Actor: d.actors[ai], Counter: c})
		}
		k := d.count(1)
		if d.err == nil && k == 0 {
			d.fail("deferred entry without targets")
		}
		targets := make([]target, 0, k)
		for j := 0; j < k && d.err == nil; j++ {
			pl := d.count(2)
			if pl > MaxDepth {
				d.fail("deferred path deeper than %d", MaxDepth)
				break
			}
			var t target
			if pl > 0 {
				t.path = make([]Field, 0, pl)
			}
			for p := 0; p < pl && d.err == nil; p++ {
				t.path = append(t.path, d.field())
			}
			t.op = targetOp(d.byte())
			if t.op == targetElem {
				t.elem = d.str()
			}
			if d.err != nil {
				break
			}
			if !t.op.valid() || !valid(t) {
				d.fail("deferred target not valid here")
				break
			}
			if j > 0 && compareTarget(targets[j-1], t) >= 0 {
				d.fail("deferred targets out of order")
				break
			}
			targets = append(targets, t)
		}
		if d.err != nil {
			break
		}
		key := ctxKey(ctx)
		if i > 0 && out[i-1].key >= key {
			d.fail("deferred contexts out of order")
			break
		}
		out = append(out, deferredOp{ctx: ctx, key: key, targets: targets})
	}
	return out
}

// finish reports the first error, or trailing bytes.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return nil
}

// checkCanonical is the last step of every decoder: the decoded value must
// re-encode to exactly the input (after normalisation such as applying
// deferred removes), so every accepted input is the one canonical encoding
// of its value.
func checkCanonical(in []byte, v interface{ MarshalBinary() ([]byte, error) }) error {
	out, _ := v.MarshalBinary()
	if !bytes.Equal(in, out) {
		return fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return nil
}

func compareActor(a, b vclock.Actor) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}
