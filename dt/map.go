package dt

import (
	"fmt"
	"maps"
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// Map is Riak's map (riak_dt_map): fields keyed by (name, type) holding an
// embedded counter, set, register, flag or map, with observed-remove and
// reset-remove semantics:
//
//   - Updating a field creates it if absent. Every update is also an add
//     for the field itself (riak_kv#761), so a field updated concurrently
//     with its removal survives (add-wins).
//   - Removing a field removes everything inside it that the remover had
//     seen. What survives a concurrent removal is exactly the concurrent
//     updates: a set field {a,b} removed while another client adds c comes
//     back as {c} (reset-remove).
//
// Unlike riak_dt_map, embedded values have no clocks of their own: the map
// is one dot store (Almeida et al.'s causal OR-map). Each operation gets one
// new dot from the map's clock; every field it touches records that dot as a
// presence dot, and the embedded values store it on what they add (set
// elements, flag enables, register assignments, counter entries). Removing a
// field drops every dot in it that the context covers, recursively; a field
// left with no dots disappears, so removed fields leave no residue. One
// clock, an actor table in the encoding and dots as (index, counter) keep
// the size at O(actors + live content).
//
// Embedded types:
//
//   - counter: per actor (dot, P, N) as riak_dt_emcntr, so a field removed
//     and re-added restarts at zero. Known limitation, as riak_dt#98: a
//     removal cannot take back part of one actor's total, so an increment
//     concurrent with a field removal brings back that actor's whole total.
//   - set: the ORSWOT rules of Set, on the map's dots.
//   - register: LWW as Register, each assignment stored under its dot. An
//     assignment replaces the assignments its context covers, except that
//     the greatest of those is kept while it beats the new one.
//   - flag: enable-wins as Flag.
//   - map: recursively, to MaxDepth levels.
//
// Removes (field removals, set removes, flag disables) follow the context
// rules of Set (riak_dt_map's remove_field with a context): with a context a
// removal drops exactly the dots the context covers, never the dots of
// updates earlier in the same Apply nor of concurrent updates, and removing
// what the context never saw (or what is already gone) is a successful
// no-op; at a replica that has not seen the whole context, the seen part is
// removed now and the rest is deferred. Without a context a removal drops
// every local dot in its target, and a field removal or set remove whose
// target is absent from the replica fails with *PreconditionError.
// Deferred removes are stored in the top-level map with the full path of
// their target, never inside the embedded value, so removing the field
// afterwards cannot lose them (riak_dt#99).
type Map struct {
	clock    vclock.VClock
	fields   fieldMap
	deferred deferredList
}

type fieldMap map[Field]*fieldState

// fieldState is one field: its presence dots and the embedded store of the
// field's type (the others stay empty). A fieldState belongs to exactly one
// Map; its dotSets and regs slices are immutable and may be shared.
type fieldState struct {
	present dotSet
	ctr     map[vclock.Actor]ctrEntry // counter
	elems   map[string]dotSet         // set
	regs    []regEntry                // register, sorted by dot
	flag    dotSet                    // flag
	sub     fieldMap                  // map
}

// ctrEntry is one actor's totals in an embedded counter, stamped with the
// counter of the actor's dot that last changed them.
type ctrEntry struct {
	counter uint64
	p, n    uint64
}

// regEntry is one register assignment, made by dot.Actor.
type regEntry struct {
	dot   vclock.Dot
	ts    int64
	value string
}

func regLess(a, b regEntry) bool {
	return lwwLess(a.ts, a.dot.Actor, a.value, b.ts, b.dot.Actor, b.value)
}

// Kind reports KindMap.
func (*Map) Kind() Kind { return KindMap }

// Apply applies op at this replica for actor with the client's context ctx
// (zero: act on the local state). The edits apply in order under one new dot
// (minted only if op updates a field), atomically: on any error the map is
// unchanged.
func (m *Map) Apply(op MapOp, actor vclock.Actor, ctx Context) error {
	if err := validateOp(op, 1); err != nil {
		return err
	}
	a := mapApplier{actor: actor, sn: seen{vv: m.clock}, descends: true, ctx: ctx.set}
	if ctx.set {
		a.sn.vv = ctx.vv
		a.descends = m.clock.Descends(ctx.vv)
	}
	clock := m.clock
	if slices.ContainsFunc(op.Edits, func(e MapEdit) bool { return !e.Remove }) {
		var err error
		if clock, a.sn.self, err = mint(m.clock, actor); err != nil {
			return err
		}
	}
	// Work on copies of the touched top-level fields; commit on success.
	work := make(fieldMap)
	touched := make(map[Field]bool)
	for _, e := range op.Edits {
		if touched[e.Field] {
			continue
		}
		touched[e.Field] = true
		if fs := m.fields[e.Field]; fs != nil {
			work[e.Field] = fs.clone()
		}
	}
	// Removes with a context see exactly the context; without one they see
	// the local state and the batch's own updates.
	a.rm = a.sn
	if ctx.set {
		a.rm.self = vclock.Dot{}
	}
	if err := a.edits(work, op.Edits, nil); err != nil {
		return err
	}
	def := m.deferred
	if len(a.deferred) > 0 {
		var err error
		if def, err = def.with(ctx.vv, a.deferred); err != nil {
			return err
		}
	}
	if m.fields == nil && len(work) > 0 {
		m.fields = make(fieldMap, len(work))
	}
	for f := range touched {
		if fs := work[f]; fs != nil && !fs.empty() {
			m.fields[f] = fs
		} else {
			delete(m.fields, f)
		}
	}
	m.clock, m.deferred = clock, def
	m.settle()
	return nil
}

// mapApplier carries one Apply's dot, context and deferred removes.
type mapApplier struct {
	actor    vclock.Actor
	sn       seen // what updates replace; sn.self is the batch's dot
	rm       seen // what removes drop: the context alone, if there is one
	ctx      bool // the client sent a context
	descends bool // the replica has seen the whole context
	deferred []target
}

func (a *mapApplier) edits(fm fieldMap, edits []MapEdit, path []Field) error {
	for _, e := range edits {
		f := e.Field
		fpath := append(path[:len(path):len(path)], f)
		fs := fm[f]
		if e.Remove {
			removed := false
			if fs != nil {
				removed = fs.removeSeen(a.rm)
				if fs.empty() {
					delete(fm, f)
				}
			}
			if !a.ctx && !removed {
				return &PreconditionError{Path: slices.Clone(path), Element: f.String()}
			}
			if !a.descends {
				a.deferred = append(a.deferred, target{path: fpath, op: targetField})
			}
			continue
		}
		if fs == nil {
			fs = &fieldState{}
			fm[f] = fs
		}
		self := a.sn.self
		fs.present = fs.present.plus(self, a.sn)
		switch op := e.Op.(type) {
		case CounterOp:
			if op.Delta == 0 {
				break
			}
			old := fs.ctr[a.actor]
			p, n, ok := addDelta(old.p, old.n, op.Delta)
			if !ok || !fitsInt64(fs.counterExact(), op.Delta) {
				return fmt.Errorf("%w: map counter %s, actor %s", ErrOverflow, f, a.actor)
			}
			if fs.ctr == nil {
				fs.ctr = make(map[vclock.Actor]ctrEntry)
			}
			fs.ctr[a.actor] = ctrEntry{counter: self.Counter, p: p, n: n}
		case SetOp:
			for _, se := range op.Edits {
				for _, x := range se.Elements {
					if !se.Remove {
						if fs.elems == nil {
							fs.elems = make(map[string]dotSet)
						}
						fs.elems[x] = fs.elems[x].plus(self, a.sn)
						continue
					}
					if removed := removeElem(fs.elems, x, a.rm); !a.ctx && !removed {
						return &PreconditionError{Path: fpath, Element: x}
					}
					if !a.descends {
						a.deferred = append(a.deferred, target{path: fpath, op: targetElem, elem: x})
					}
				}
			}
		case RegisterOp:
			fs.regs = assignReg(fs.regs, regEntry{dot: self, ts: op.Timestamp, value: op.Value}, a.sn)
		case FlagOp:
			if op.Enable {
				fs.flag = fs.flag.plus(self, a.sn)
				break
			}
			fs.flag, _ = fs.flag.without(a.rm)
			if !a.descends {
				a.deferred = append(a.deferred, target{path: fpath, op: targetFlag})
			}
		case MapOp:
			if fs.sub == nil {
				fs.sub = make(fieldMap)
			}
			if err := a.edits(fs.sub, op.Edits, fpath); err != nil {
				return err
			}
		}
	}
	return nil
}

// assignReg stores nw and drops the assignments sn covers, except the
// greatest of them while it beats nw.
func assignReg(regs []regEntry, nw regEntry, sn seen) []regEntry {
	out := make([]regEntry, 0, 2)
	var win *regEntry
	for i := range regs {
		r := &regs[i]
		if !sn.covers(r.dot) {
			out = append(out, *r)
		} else if win == nil || regLess(*win, *r) {
			win = r
		}
	}
	if win != nil && regLess(nw, *win) {
		if win.dot == nw.dot {
			nw = *win
		} else {
			out = append(out, *win)
		}
	}
	out = append(out, nw)
	slices.SortFunc(out, func(a, b regEntry) int {
		switch {
		case dotLess(a.dot, b.dot):
			return -1
		case dotLess(b.dot, a.dot):
			return 1
		}
		return 0
	})
	return out
}

// ApplyOp applies a MapOp.
func (m *Map) ApplyOp(op Op, actor vclock.Actor, ctx Context) error {
	o, ok := op.(MapOp)
	if !ok {
		return mismatch(KindMap, op)
	}
	return m.Apply(o, actor, ctx)
}

// settle re-applies the deferred removes and drops the completed ones.
func (m *Map) settle() {
	m.deferred = m.deferred.settle(m.clock, func(t target, sn seen) {
		removeAt(m.fields, t.path, t, sn)
	})
}

// removeAt applies a deferred remove at path below fm, deleting fields left
// empty on the way back up.
func removeAt(fm fieldMap, path []Field, t target, sn seen) {
	f := path[0]
	fs := fm[f]
	if fs == nil {
		return
	}
	switch {
	case len(path) > 1:
		removeAt(fs.sub, path[1:], t, sn)
	case t.op == targetField:
		fs.removeSeen(sn)
	case t.op == targetElem:
		removeElem(fs.elems, t.elem, sn)
	case t.op == targetFlag:
		fs.flag, _ = fs.flag.without(sn)
	}
	if fs.empty() {
		delete(fm, f)
	}
}

func (fs *fieldState) empty() bool {
	return len(fs.present) == 0 && len(fs.ctr) == 0 && len(fs.elems) == 0 &&
		len(fs.regs) == 0 && len(fs.flag) == 0 && len(fs.sub) == 0
}

func (fs *fieldState) clone() *fieldState {
	c := *fs
	c.ctr = maps.Clone(fs.ctr)
	c.elems = maps.Clone(fs.elems)
	c.sub = fs.sub.clone()
	return &c
}

func (fm fieldMap) clone() fieldMap {
	if fm == nil {
		return nil
	}
	out := make(fieldMap, len(fm))
	for f, fs := range fm {
		out[f] = fs.clone()
	}
	return out
}

// removeSeen drops every dot in the field that sn covers, recursively, and
// reports whether any was dropped.
func (fs *fieldState) removeSeen(sn seen) bool {
	var removed, r bool
	fs.present, removed = fs.present.without(sn)
	for a, e := range fs.ctr {
		if sn.covers(vclock.Dot{Actor: a, Counter: e.counter}) {
			delete(fs.ctr, a)
			removed = true
		}
	}
	for x := range fs.elems {
		if removeElem(fs.elems, x, sn) {
			removed = true
		}
	}
	if slices.ContainsFunc(fs.regs, func(r regEntry) bool { return sn.covers(r.dot) }) {
		fs.regs = slices.DeleteFunc(slices.Clone(fs.regs), func(r regEntry) bool { return sn.covers(r.dot) })
		removed = true
	}
	fs.flag, r = fs.flag.without(sn)
	removed = removed || r
	for f, sub := range fs.sub {
		if sub.removeSeen(sn) {
			removed = true
		}
		if sub.empty() {
			delete(fs.sub, f)
		}
	}
	return removed
}

// joinFields joins b (read only) into a (owned, modified) and returns a.
func joinFields(a, b fieldMap, ca, cb vclock.VClock) fieldMap {
	var fresh fieldMap
	for f, fb := range b {
		if _, ok := a[f]; ok {
			continue
		}
		if fs := joinField(nil, fb, ca, cb); fs != nil {
			if fresh == nil {
				fresh = make(fieldMap)
			}
			fresh[f] = fs
		}
	}
	for f, fa := range a {
		if fs := joinField(fa, b[f], ca, cb); fs != nil {
			a[f] = fs
		} else {
			delete(a, f)
		}
	}
	if a == nil {
		return fresh
	}
	maps.Copy(a, fresh)
	return a
}

// joinField joins field b (read only, may be nil) into a (owned, may be
// nil) and returns the result, or nil if it holds no dots.
func joinField(a, b *fieldState, ca, cb vclock.VClock) *fieldState {
	if a == nil {
		a = &fieldState{}
	}
	if b == nil {
		b = &fieldState{}
	}
	a.present = joinDots(a.present, b.present, ca, cb)
	a.ctr = joinCtr(a.ctr, b.ctr, ca, cb)
	a.elems = joinElems(a.elems, b.elems, ca, cb)
	a.regs = joinRegs(a.regs, b.regs, ca, cb)
	a.flag = joinDots(a.flag, b.flag, ca, cb)
	if len(a.sub) > 0 || len(b.sub) > 0 {
		a.sub = joinFields(a.sub, b.sub, ca, cb)
	}
	if a.empty() {
		return nil
	}
	return a
}

// joinCtr joins embedded counters: an actor's entry on both sides with the
// same dot is kept; otherwise each side's entry survives if the other
// side's clock has not seen its dot, and if both survive the later dot wins.
func joinCtr(a, b map[vclock.Actor]ctrEntry, ca, cb vclock.VClock) map[vclock.Actor]ctrEntry {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(map[vclock.Actor]ctrEntry, max(len(a), len(b)))
	pick := func(act vclock.Actor) {
		ea, okA := a[act]
		eb, okB := b[act]
		if okA && okB && ea.counter == eb.counter {
			out[act] = ctrEntry{counter: ea.counter, p: max(ea.p, eb.p), n: max(ea.n, eb.n)}
			return
		}
		keepA := okA && !cb.Covers(vclock.Dot{Actor: act, Counter: ea.counter})
		keepB := okB && !ca.Covers(vclock.Dot{Actor: act, Counter: eb.counter})
		switch {
		case keepA && keepB:
			if ea.counter > eb.counter {
				out[act] = ea
			} else {
				out[act] = eb
			}
		case keepA:
			out[act] = ea
		case keepB:
			out[act] = eb
		}
	}
	for act := range a {
		pick(act)
	}
	for act := range b {
		if _, ok := a[act]; !ok {
			pick(act)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// joinRegs is the dot-store join on register assignments.
func joinRegs(a, b []regEntry, ca, cb vclock.VClock) []regEntry {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	var out []regEntry
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && dotLess(a[i].dot, b[j].dot)):
			if !cb.Covers(a[i].dot) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || dotLess(b[j].dot, a[i].dot):
			if !ca.Covers(b[j].dot) {
				out = append(out, b[j])
			}
			j++
		default:
			r := a[i]
			if regLess(r, b[j]) {
				r = b[j]
			}
			out = append(out, r)
			i++
			j++
		}
	}
	return out
}

// counterExact is a counter field's Σ(P−N) without overflow.
func (fs *fieldState) counterExact() i129 {
	var pos, neg u128
	for _, e := range fs.ctr {
		pos, neg = pos.add(e.p), neg.add(e.n)
	}
	return diff(pos, neg)
}

// value renders a field of type k.
func (fs *fieldState) value(k Kind) any {
	switch k {
	case KindCounter:
		return fs.counterExact().clamp()
	case KindSet:
		out := make([]string, 0, len(fs.elems))
		for x := range fs.elems {
			out = append(out, x)
		}
		slices.Sort(out)
		return out
	case KindRegister:
		if len(fs.regs) == 0 {
			return ""
		}
		w := fs.regs[0]
		for _, r := range fs.regs[1:] {
			if regLess(w, r) {
				w = r
			}
		}
		return w.value
	case KindFlag:
		return len(fs.flag) > 0
	case KindMap:
		return fs.sub.value()
	}
	return nil
}

func (fm fieldMap) value() map[string]any {
	out := make(map[string]any, len(fm))
	for f, fs := range fm {
		out[f.String()] = fs.value(f.Type)
	}
	return out
}

// Value returns the map as map[string]any keyed name_type, with nested
// values in their Value shapes (counter int64, set []string, register
// string, flag bool, map map[string]any).
func (m *Map) Value() any { return m.fields.value() }

// Fields returns the top-level fields, sorted by name then type.
func (m *Map) Fields() []Field {
	out := slices.Collect(maps.Keys(m.fields))
	slices.SortFunc(out, compareField)
	return out
}

// Get returns the value of a top-level field in its Value shape.
func (m *Map) Get(f Field) (any, bool) {
	fs, ok := m.fields[f]
	if !ok {
		return nil, false
	}
	return fs.value(f.Type), true
}

// Len returns the number of top-level fields.
func (m *Map) Len() int { return len(m.fields) }

// Context returns the map's clock as the context for later removes.
func (m *Map) Context() Context { return Context{vv: m.clock, set: true} }

// Merge joins other into m: every field is joined as a dot store under the
// two clocks, recursively; fields left without dots disappear; deferred
// removes are united and re-applied.
func (m *Map) Merge(other CRDT) error {
	o, ok := other.(*Map)
	if !ok {
		return mismatch(KindMap, other)
	}
	if o == nil || o == m {
		return nil
	}
	m.fields = joinFields(m.fields, o.fields, m.clock, o.clock)
	m.clock = vclock.Merge(m.clock, o.clock)
	m.deferred = mergeDeferred(m.deferred, o.deferred)
	m.settle()
	return nil
}

// Clone returns a deep copy.
func (m *Map) Clone() CRDT {
	return &Map{clock: m.clock, fields: m.fields.clone(), deferred: slices.Clone(m.deferred)}
}

// Equal reports whether other is a map with the same state.
func (m *Map) Equal(other CRDT) bool { return equalEncoding(m, other) }

// Stats reports actors, top-level fields, the most presence dots on one
// field, and deferred contexts.
func (m *Map) Stats() Stats {
	st := Stats{Actors: len(m.clock), Elements: len(m.fields), Deferred: len(m.deferred)}
	for _, fs := range m.fields {
		st.MaxDots = max(st.MaxDots, len(fs.present))
	}
	return st
}

// MarshalBinary encodes the map: tag 'M', version, actor table and clock,
// the fields (sorted by name then type, each with its presence dots and
// embedded store, recursively), then the deferred removes.
func (m *Map) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindMap, 16+len(m.clock)*12+len(m.fields)*16)
	e.causalHeader(m.clock, m.deferred)
	e.fields(m.fields)
	e.deferred(m.deferred)
	return e.b, nil
}

func (e *encoder) fields(fm fieldMap) {
	keys := slices.Collect(maps.Keys(fm))
	slices.SortFunc(keys, compareField)
	e.uvarint(uint64(len(keys)))
	for _, f := range keys {
		fs := fm[f]
		e.field(f)
		e.dots(fs.present)
		switch f.Type {
		case KindCounter:
			actors := slices.Collect(maps.Keys(fs.ctr))
			slices.SortFunc(actors, compareActor)
			e.uvarint(uint64(len(actors)))
			for _, a := range actors {
				c := fs.ctr[a]
				e.dot(vclock.Dot{Actor: a, Counter: c.counter})
				e.uvarint(c.p)
				e.uvarint(c.n)
			}
		case KindSet:
			e.elems(fs.elems)
		case KindRegister:
			e.uvarint(uint64(len(fs.regs)))
			for _, r := range fs.regs {
				e.dot(r.dot)
				e.varint(r.ts)
				e.str(r.value)
			}
		case KindFlag:
			e.dots(fs.flag)
		case KindMap:
			e.fields(fs.sub)
		}
	}
}

func (d *decoder) fields(depth int) fieldMap {
	n := d.count(4)
	if n == 0 {
		return nil
	}
	fm := make(fieldMap, n)
	var prev Field
	for i := 0; i < n && d.err == nil; i++ {
		f := d.field()
		if i > 0 && compareField(prev, f) >= 0 {
			d.fail("map fields out of order")
		}
		prev = f
		fs := &fieldState{present: d.dots(true)}
		switch f.Type {
		case KindCounter:
			k := d.count(4)
			for j := 0; j < k && d.err == nil; j++ {
				dot := d.dot()
				c := ctrEntry{counter: dot.Counter, p: d.uvarint(), n: d.uvarint()}
				if d.err != nil {
					break
				}
				if c.p == 0 && c.n == 0 {
					d.fail("empty counter entry")
				}
				if _, dup := fs.ctr[dot.Actor]; dup {
					d.fail("duplicate counter actor")
				}
				if fs.ctr == nil {
					fs.ctr = make(map[vclock.Actor]ctrEntry, k)
				}
				fs.ctr[dot.Actor] = c
			}
		case KindSet:
			fs.elems = d.elems()
		case KindRegister:
			k := d.count(4)
			for j := 0; j < k && d.err == nil; j++ {
				r := regEntry{dot: d.dot(), ts: d.varint(), value: d.str()}
				if d.err != nil {
					break
				}
				if r.ts <= 0 {
					d.fail("register timestamp %d", r.ts)
				}
				if j > 0 && !dotLess(fs.regs[j-1].dot, r.dot) {
					d.fail("register entries out of order")
				}
				fs.regs = append(fs.regs, r)
			}
		case KindFlag:
			fs.flag = d.dots(true)
		case KindMap:
			if depth+1 > MaxDepth {
				d.fail("maps nested deeper than %d", MaxDepth)
				break
			}
			fs.sub = d.fields(depth + 1)
		}
		if d.err == nil && fs.empty() {
			d.fail("map field %s holds no dots", f)
		}
		fm[f] = fs
	}
	return fm
}

// validMapTarget reports whether a deferred target fits a map: a non-empty
// path through maps to a field of the right type.
func validMapTarget(t target) bool {
	if len(t.path) == 0 {
		return false
	}
	for _, f := range t.path[:len(t.path)-1] {
		if f.Type != KindMap {
			return false
		}
	}
	last := t.path[len(t.path)-1].Type
	switch t.op {
	case targetElem:
		return last == KindSet
	case targetFlag:
		return last == KindFlag
	}
	return t.op == targetField && t.elem == ""
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (m *Map) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindMap)
	v := Map{clock: d.causalHeader()}
	v.fields = d.fields(1)
	v.deferred = d.deferred(validMapTarget)
	if err := d.finish(); err != nil {
		return err
	}
	v.settle()
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*m = v
	return nil
}
