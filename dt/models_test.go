package dt

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/riakgo/riakgo/vclock"
)

// The models are reference implementations with no clocks: every operation
// is an event with a unique id, a replica's model knows a set of events, a
// read's model is a copy of what the replica knew, and merging models is
// the union of what they know. Observed-remove is literal: a remove with a
// context kills exactly the adds its read knew (riak_dt's update/4: not even
// those earlier in its own batch); a remove without one kills the adds the
// replica knows plus those earlier in its own batch, and fails its
// precondition if that is nothing (riak_dt's update/3). The property
// harness checks that the real types, with their compact clocks, dots and
// deferred removes, show exactly the model's value at every replica after
// every step, and predict precondition failures the same way.

// model is one replica's (or one read's) knowledge.
type model interface {
	clone() model
	// apply applies op at this replica; snap is the model of the client's
	// read (nil: no context, the client acts on this replica's state). It
	// reports whether the op must fail its precondition (and then must
	// leave the model unchanged).
	apply(op Op, actor vclock.Actor, snap model) (precondition bool)
	merge(o model)
	value() any
}

// evKey names one stored thing an event made: a presence ('p'), set element
// ('e'), flag enable ('f'), counter entry ('c', elem = actor) or register
// assignment ('r') at a field path ("" at top level). batch is the event
// id; seq orders things made within one batch.
type evKey struct {
	batch, seq int
	path       string
	leaf       byte
	elem       string
}

type evVal struct {
	p, n  uint64
	ts    int64
	actor vclock.Actor
	value string
}

// evRule is a remove: it kills every key (known now or later) it matches
// whose batch the remover had seen.
type evRule struct {
	seen      map[int]bool
	self, seq int // the remover's own batch: keys of it with a lower seq were seen too
	path      string
	prefix    bool // field removal: everything under path
	leaf      byte
	elem      string
}

func (r *evRule) matches(k evKey) bool {
	if !(r.seen[k.batch] || (k.batch == r.self && k.seq < r.seq)) {
		return false
	}
	if r.prefix {
		return strings.HasPrefix(k.path, r.path)
	}
	return k.path == r.path && k.leaf == r.leaf && k.elem == r.elem
}

// evModel is the shared event store behind the set, flag and map models.
type evModel struct {
	ids     *int // shared id source of one run
	known   map[int]bool
	entries map[evKey]evVal
	killed  map[evKey]bool
	rules   []*evRule
}

func newEvModel(ids *int) *evModel {
	return &evModel{ids: ids, known: map[int]bool{}, entries: map[evKey]evVal{}, killed: map[evKey]bool{}}
}

func (m *evModel) cloneEv() *evModel {
	return &evModel{ids: m.ids, known: maps.Clone(m.known), entries: maps.Clone(m.entries),
		killed: maps.Clone(m.killed), rules: slices.Clone(m.rules)}
}

func (m *evModel) mergeEv(o *evModel) {
	maps.Copy(m.known, o.known)
	maps.Copy(m.entries, o.entries)
	maps.Copy(m.killed, o.killed)
	have := map[*evRule]bool{}
	for _, r := range m.rules {
		have[r] = true
	}
	for _, r := range o.rules {
		if !have[r] {
			m.rules = append(m.rules, r)
		}
	}
}

func (m *evModel) live(k evKey) bool {
	if _, ok := m.entries[k]; !ok || m.killed[k] {
		return false
	}
	for _, r := range m.rules {
		if r.matches(k) {
			return false
		}
	}
	return true
}

// liveKeys returns the live keys accepted by pred, in a fixed order.
func (m *evModel) liveKeys(pred func(evKey) bool) []evKey {
	var out []evKey
	for k := range m.entries {
		if pred(k) && m.live(k) {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].batch != out[j].batch {
			return out[i].batch < out[j].batch
		}
		return out[i].seq < out[j].seq
	})
	return out
}

// evBatch is one operation being applied to an evModel.
type evBatch struct {
	m    *evModel
	b    int          // the batch's id, 0 if it mints none
	seq  int          // things made so far in the batch
	seen map[int]bool // batches the client had seen
	ctx  bool         // the client sent the context of a read
}

func (m *evModel) begin(snap *evModel, mint bool) *evBatch {
	bt := &evBatch{m: m, ctx: snap != nil}
	if snap == nil {
		bt.seen = maps.Clone(m.known)
	} else {
		bt.seen = maps.Clone(snap.known)
	}
	if mint {
		*m.ids++
		bt.b = *m.ids
		m.known[bt.b] = true
	}
	return bt
}

func (bt *evBatch) sees(k evKey) bool {
	return bt.seen[k.batch] || (k.batch == bt.b && k.seq <= bt.seq)
}

// put stores a new key of this batch.
func (bt *evBatch) put(path string, leaf byte, elem string, v evVal) evKey {
	bt.seq++
	k := evKey{batch: bt.b, seq: bt.seq, path: path, leaf: leaf, elem: elem}
	bt.m.entries[k] = v
	return k
}

// replace kills the live keys at (path, leaf, elem) the batch has seen.
func (bt *evBatch) replace(path string, leaf byte, elem string) {
	for _, k := range bt.m.liveKeys(func(k evKey) bool { return k.path == path && k.leaf == leaf && k.elem == elem }) {
		if bt.sees(k) {
			bt.m.killed[k] = true
		}
	}
}

// remove adds a remove rule and reports whether it killed anything live.
// With a context the rule kills only what the read knew, not the batch's
// own earlier adds.
func (bt *evBatch) remove(path string, prefix bool, leaf byte, elem string) bool {
	bt.seq++
	self := bt.b
	if bt.ctx {
		self = -1
	}
	r := &evRule{seen: bt.seen, self: self, seq: bt.seq, path: path, prefix: prefix, leaf: leaf, elem: elem}
	any := len(bt.m.liveKeys(r.matches)) > 0
	bt.m.rules = append(bt.m.rules, r)
	return any
}

// ---- set ----

type setModel struct{ *evModel }

func (m setModel) clone() model  { return setModel{m.cloneEv()} }
func (m setModel) merge(o model) { m.mergeEv(o.(setModel).evModel) }
func (m setModel) elements() []string {
	seen := map[string]bool{}
	for _, k := range m.liveKeys(func(k evKey) bool { return k.leaf == 'e' }) {
		seen[k.elem] = true
	}
	out := slices.Sorted(maps.Keys(seen))
	if out == nil {
		out = []string{}
	}
	return out
}
func (m setModel) value() any { return m.elements() }

func (m setModel) apply(op Op, _ vclock.Actor, snap model) bool {
	o := op.(SetOp)
	mint := slices.ContainsFunc(o.Edits, func(e SetEdit) bool { return !e.Remove && len(e.Elements) > 0 })
	work := m.cloneEv()
	var s *evModel
	if snap != nil {
		s = snap.(setModel).evModel
	}
	bt := work.begin(s, mint)
	for _, e := range o.Edits {
		for _, x := range e.Elements {
			if !e.Remove {
				bt.replace("", 'e', x)
				bt.put("", 'e', x, evVal{})
			} else if !bt.remove("", false, 'e', x) && !bt.ctx {
				return true
			}
		}
	}
	*m.evModel = *work
	return false
}

// ---- flag ----

type flagModel struct{ *evModel }

func (m flagModel) clone() model  { return flagModel{m.cloneEv()} }
func (m flagModel) merge(o model) { m.mergeEv(o.(flagModel).evModel) }
func (m flagModel) value() any {
	return len(m.liveKeys(func(k evKey) bool { return k.leaf == 'f' })) > 0
}

func (m flagModel) apply(op Op, _ vclock.Actor, snap model) bool {
	var s *evModel
	if snap != nil {
		s = snap.(flagModel).evModel
	}
	en := op.(FlagOp).Enable
	bt := m.begin(s, en)
	if en {
		bt.replace("", 'f', "")
		bt.put("", 'f', "", evVal{})
	} else {
		bt.remove("", false, 'f', "")
	}
	return false
}

// ---- map ----

type mapModel struct{ *evModel }

func (m mapModel) clone() model  { return mapModel{m.cloneEv()} }
func (m mapModel) merge(o model) { m.mergeEv(o.(mapModel).evModel) }

func pathOf(fs []Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name)
		b.WriteByte(1)
		b.WriteByte(byte(f.Type))
		b.WriteByte(0)
	}
	return b.String()
}

func parsePath(p string) []Field {
	var out []Field
	for p != "" {
		i := strings.IndexByte(p, 0)
		seg := p[:i]
		p = p[i+1:]
		out = append(out, Field{Name: seg[:len(seg)-2], Type: Kind(seg[len(seg)-1])})
	}
	return out
}

func (m mapModel) apply(op Op, actor vclock.Actor, snap model) bool {
	o := op.(MapOp)
	mint := slices.ContainsFunc(o.Edits, func(e MapEdit) bool { return !e.Remove })
	work := m.cloneEv()
	var s *evModel
	if snap != nil {
		s = snap.(mapModel).evModel
	}
	bt := work.begin(s, mint)
	if !mapModelEdits(bt, actor, o.Edits, nil) {
		return true
	}
	*m.evModel = *work
	return false
}

// mapModelEdits applies edits below path; false means a precondition failed.
func mapModelEdits(bt *evBatch, actor vclock.Actor, edits []MapEdit, path []Field) bool {
	for _, e := range edits {
		fpath := append(slices.Clone(path), e.Field)
		fp := pathOf(fpath)
		if e.Remove {
			if !bt.remove(fp, true, 0, "") && !bt.ctx {
				return false
			}
			continue
		}
		bt.replace(fp, 'p', "")
		bt.put(fp, 'p', "", evVal{})
		switch op := e.Op.(type) {
		case CounterOp:
			if op.Delta == 0 {
				break
			}
			var old evVal
			if ks := bt.m.liveKeys(func(k evKey) bool { return k.path == fp && k.leaf == 'c' && k.elem == actor.String() }); len(ks) > 0 {
				old = bt.m.entries[ks[len(ks)-1]]
				for _, k := range ks {
					bt.m.killed[k] = true
				}
			}
			p, n, _ := addDelta(old.p, old.n, op.Delta)
			bt.put(fp, 'c', actor.String(), evVal{p: p, n: n})
		case SetOp:
			for _, se := range op.Edits {
				for _, x := range se.Elements {
					if !se.Remove {
						bt.replace(fp, 'e', x)
						bt.put(fp, 'e', x, evVal{})
					} else if !bt.remove(fp, false, 'e', x) && !bt.ctx {
						return false
					}
				}
			}
		case RegisterOp:
			nw := evVal{ts: op.Timestamp, actor: actor, value: op.Value}
			var win *evVal
			var winKey evKey
			for _, k := range bt.m.liveKeys(func(k evKey) bool { return k.path == fp && k.leaf == 'r' }) {
				if !bt.sees(k) {
					continue
				}
				v := bt.m.entries[k]
				if win == nil || lwwLess(win.ts, win.actor, win.value, v.ts, v.actor, v.value) {
					win, winKey = &v, k
				}
				bt.m.killed[k] = true
			}
			if win != nil && lwwLess(nw.ts, nw.actor, nw.value, win.ts, win.actor, win.value) {
				delete(bt.m.killed, winKey)
			}
			bt.put(fp, 'r', "", nw)
		case FlagOp:
			if op.Enable {
				bt.replace(fp, 'f', "")
				bt.put(fp, 'f', "", evVal{})
			} else {
				bt.remove(fp, false, 'f', "")
			}
		case MapOp:
			if !mapModelEdits(bt, actor, op.Edits, fpath) {
				return false
			}
		}
	}
	return true
}

type mnode struct {
	typ   Kind
	sub   map[Field]*mnode
	sum   uint64
	elems map[string]bool
	reg   *evVal
	flag  bool
}

func (n *mnode) render() any {
	switch n.typ {
	case KindCounter:
		return int64(n.sum)
	case KindSet:
		out := slices.Sorted(maps.Keys(n.elems))
		if out == nil {
			out = []string{}
		}
		return out
	case KindRegister:
		if n.reg == nil {
			return ""
		}
		return n.reg.value
	case KindFlag:
		return n.flag
	}
	out := map[string]any{}
	for f, c := range n.sub {
		out[f.String()] = c.render()
	}
	return out
}

func (m mapModel) value() any {
	root := &mnode{typ: KindMap, sub: map[Field]*mnode{}}
	for _, k := range m.liveKeys(func(evKey) bool { return true }) {
		n := root
		for _, f := range parsePath(k.path) {
			c := n.sub[f]
			if c == nil {
				c = &mnode{typ: f.Type, sub: map[Field]*mnode{}, elems: map[string]bool{}}
				n.sub[f] = c
			}
			n = c
		}
		v := m.entries[k]
		switch k.leaf {
		case 'c':
			n.sum += v.p - v.n
		case 'e':
			n.elems[k.elem] = true
		case 'f':
			n.flag = true
		case 'r':
			if n.reg == nil || lwwLess(n.reg.ts, n.reg.actor, n.reg.value, v.ts, v.actor, v.value) {
				n.reg = &v
			}
		}
	}
	return root.render()
}

// ---- counter, register, gset, hll: grow-only knowledge ----

// knownModel knows a set of events (id → payload); value folds them.
type knownModel struct {
	ids    *int
	events map[int]evVal
	fold   func(events map[int]evVal) any
	add    func(op Op, actor vclock.Actor) []evVal
}

func (m *knownModel) clone() model {
	c := *m
	c.events = maps.Clone(m.events)
	return &c
}
func (m *knownModel) merge(o model) { maps.Copy(m.events, o.(*knownModel).events) }
func (m *knownModel) value() any    { return m.fold(m.events) }
func (m *knownModel) apply(op Op, actor vclock.Actor, _ model) bool {
	for _, v := range m.add(op, actor) {
		*m.ids++
		m.events[*m.ids] = v
	}
	return false
}

func newCounterModel(ids *int) model {
	return &knownModel{ids: ids, events: map[int]evVal{},
		add: func(op Op, _ vclock.Actor) []evVal {
			d := op.(CounterOp).Delta
			if d >= 0 {
				return []evVal{{p: uint64(d)}}
			}
			return []evVal{{n: uint64(-d)}}
		},
		fold: func(ev map[int]evVal) any {
			var s int64
			for _, v := range ev {
				s += int64(v.p) - int64(v.n)
			}
			return s
		}}
}

func newRegisterModel(ids *int) model {
	return &knownModel{ids: ids, events: map[int]evVal{},
		add: func(op Op, a vclock.Actor) []evVal {
			o := op.(RegisterOp)
			return []evVal{{ts: o.Timestamp, actor: a, value: o.Value}}
		},
		fold: func(ev map[int]evVal) any {
			var w *evVal
			for _, v := range ev {
				if w == nil || lwwLess(w.ts, w.actor, w.value, v.ts, v.actor, v.value) {
					w = &v
				}
			}
			if w == nil {
				return ""
			}
			return w.value
		}}
}

func elementsOf(ev map[int]evVal) []string {
	set := map[string]bool{}
	for _, v := range ev {
		set[v.value] = true
	}
	out := slices.Sorted(maps.Keys(set))
	if out == nil {
		out = []string{}
	}
	return out
}

func newGSetModel(ids *int) model {
	return &knownModel{ids: ids, events: map[int]evVal{},
		add: func(op Op, _ vclock.Actor) []evVal {
			var out []evVal
			for _, x := range op.(GSetOp).Elements {
				out = append(out, evVal{value: x})
			}
			return out
		},
		fold: func(ev map[int]evVal) any { return elementsOf(ev) }}
}

// newHLLModel's value is the estimate of a fresh sketch of precision p fed
// every known element: the real sketch must match it register for register.
func newHLLModel(ids *int, p int) model {
	return &knownModel{ids: ids, events: map[int]evVal{},
		add: func(op Op, _ vclock.Actor) []evVal {
			var out []evVal
			for _, x := range op.(HLLOp).Elements {
				out = append(out, evVal{value: x})
			}
			return out
		},
		fold: func(ev map[int]evVal) any {
			h, _ := NewHLL(p)
			_ = h.Apply(HLLOp{Elements: elementsOf(ev)})
			return h.Cardinality()
		}}
}
