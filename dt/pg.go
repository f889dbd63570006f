package dt

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/vclock"
)

// PG is the state of one process group (riak_pg / cpg / Erlang pg), the
// value of a key in a pg-typed bucket. A member is a PGMember (owner node,
// the owner's incarnation, a local id) with optional metadata, and has a
// join count as in cpg: joining twice counts 2, a leave decrements, and at
// 0 the member is gone.
//
// PG is a dot store built like Set (ORSWOT): every join is tagged with its
// own dot, a member's count is the number of its live dots, and the clock
// has seen every dot. A leave drops one dot of the member that this replica
// holds (the least one), a leave-all or a prune drops every dot it holds of
// the members concerned; a dot that a clock has seen but a store does not
// hold was removed, so nothing is kept for removed members and there are
// no tombstones: the encoding holds the actors of the clock and the live
// dots only (100,000 join/leave cycles of one member leave well under
// 64 bytes; see TestPGBoundedGrowth, which asserts < 1 KiB). A join that a
// leaving replica had not seen survives the merge (add-wins).
//
// # Owner-only writes
//
// Only the owner node changes its members. A PGOp names the node issuing
// it (Node) and that node's current incarnation; its edits only name local
// ids, so an op can only join or leave members (Node, Incarnation, id):
// another node's members cannot be addressed at all. The caller must fill
// Node and Incarnation from the node that owns the endpoint — in riakgo the
// node whose pg service registered the endpoint (its own name and boot
// incarnation, never values taken from a client request) — and the
// coordinating vnode applies the op with its own actor as for every type:
// the actor mints dots, Node authorises. A node that must leave a remote
// member routes the request to the owner.
//
// Pruning (PGPruneOp, PruneIncarnation, PruneNode) is the exception: any
// replica that learns from cluster membership that an owner restarted with
// a newer incarnation, or left the cluster, removes all the dots it holds
// of those members. Removes need no dot, so they converge like leaves.
// Members of an unreachable owner are never pruned: Connected hides them.
//
// The metadata of a member is that of its greatest live dot (actor, then
// counter); owners should keep a member's metadata stable across joins.
//
// Leaves act on what the executing replica holds (PG has no client
// context): the owner is the only writer of its members, and concurrent
// leaves of one member through two vnodes may pick the same dot and then
// count once. Owners serialise their own joins and leaves per group.
type PG struct {
	clock   vclock.VClock
	members map[PGMember]pgDots
}

// PGMember identifies a group member: its owner node, the owner's boot
// incarnation, and the endpoint's id on that node.
type PGMember struct {
	Node        string
	Incarnation uint64
	ID          string
}

// PGEntry is one member as PG.Value reports it.
type PGEntry struct {
	Node        string
	Incarnation uint64
	ID          string
	Count       int
	Meta        string
}

// Member returns the entry's member identity.
func (e PGEntry) Member() PGMember { return PGMember{e.Node, e.Incarnation, e.ID} }

// Limits on pg operations; longer names, ids or metadata are refused.
const (
	MaxPGName = 255  // bytes of a node name or member id
	MaxPGMeta = 4096 // bytes of member metadata
)

// PGEditKind says what a PGEdit does.
type PGEditKind uint8

const (
	PGJoin     PGEditKind = iota + 1 // one more join of the member (count+1), with Meta
	PGLeave                          // one leave (count-1); fails if the member is absent
	PGLeaveAll                       // drop the member whatever its count; fails if absent
)

// PGEdit is one join or leave of the member (op.Node, op.Incarnation, ID).
type PGEdit struct {
	Kind PGEditKind
	ID   string
	Meta string // joins only
}

// PGOp is one update by an owner node of its own members: its edits apply
// in order, atomically. Node and Incarnation must be the owner's (see PG).
type PGOp struct {
	Node        string
	Incarnation uint64
	Edits       []PGEdit
}

// Join returns o followed by a join of id with meta (o is not modified).
func (o PGOp) Join(id, meta string) PGOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], PGEdit{Kind: PGJoin, ID: id, Meta: meta})
	return o
}

// Leave returns o followed by a leave of id.
func (o PGOp) Leave(id string) PGOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], PGEdit{Kind: PGLeave, ID: id})
	return o
}

// LeaveAll returns o followed by a leave-all of id.
func (o PGOp) LeaveAll(id string) PGOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], PGEdit{Kind: PGLeaveAll, ID: id})
	return o
}

// PGPruneOp removes members of Node that cluster membership proved dead:
// with All, every member of Node (it left the cluster); otherwise the
// members whose incarnation is below KeepIncarnation (Node restarted). It
// never fails, even when nothing is removed, and mints no dot.
type PGPruneOp struct {
	Node            string
	KeepIncarnation uint64
	All             bool
}

// Kind reports KindPG.
func (PGOp) Kind() Kind { return KindPG }

// Kind reports KindPG.
func (PGPruneOp) Kind() Kind { return KindPG }

func (PGOp) isOp()      {}
func (PGPruneOp) isOp() {}

func (o PGOp) validate() error {
	if o.Node == "" || len(o.Node) > MaxPGName {
		return fmt.Errorf("%w: pg op needs an owner node name of 1..%d bytes", ErrInvalidOp, MaxPGName)
	}
	if o.Incarnation == 0 {
		return fmt.Errorf("%w: pg op needs the owner's incarnation (> 0)", ErrInvalidOp)
	}
	for _, e := range o.Edits {
		switch e.Kind {
		case PGJoin:
			if len(e.Meta) > MaxPGMeta {
				return fmt.Errorf("%w: pg member metadata over %d bytes", ErrInvalidOp, MaxPGMeta)
			}
		case PGLeave, PGLeaveAll:
			if e.Meta != "" {
				return fmt.Errorf("%w: pg leave carries metadata", ErrInvalidOp)
			}
		default:
			return fmt.Errorf("%w: pg edit kind %d", ErrInvalidOp, e.Kind)
		}
		if len(e.ID) > MaxPGName {
			return fmt.Errorf("%w: pg member id over %d bytes", ErrInvalidOp, MaxPGName)
		}
	}
	return nil
}

// pgDot is one live join: its dot and the metadata it carried.
type pgDot struct {
	d    vclock.Dot
	meta string
}

// pgDots is sorted by dot and never modified in place once built.
type pgDots []pgDot

func comparePGMember(a, b PGMember) int {
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	if a.Incarnation != b.Incarnation {
		if a.Incarnation < b.Incarnation {
			return -1
		}
		return 1
	}
	return strings.Compare(a.ID, b.ID)
}

// Kind reports KindPG.
func (*PG) Kind() Kind { return KindPG }

// Apply applies an owner's op with actor (see PG). A leave or leave-all of
// a member this replica does not hold fails with a *PreconditionError whose
// Element is the id, and the value is unchanged.
func (p *PG) Apply(op PGOp, actor vclock.Actor, _ Context) error {
	if err := op.validate(); err != nil {
		return err
	}
	if err := checkActor(actor); err != nil {
		return err
	}
	clock := p.clock
	overlay := make(map[PGMember]pgDots)
	get := func(m PGMember) pgDots {
		if ds, ok := overlay[m]; ok {
			return ds
		}
		return p.members[m]
	}
	for _, e := range op.Edits {
		m := PGMember{op.Node, op.Incarnation, e.ID}
		ds := get(m)
		switch e.Kind {
		case PGJoin:
			c, d, err := mint(clock, actor)
			if err != nil {
				return err
			}
			clock = c
			out := make(pgDots, 0, len(ds)+1)
			out = append(out, ds...)
			i, _ := slices.BinarySearchFunc(out, d, func(x pgDot, d vclock.Dot) int {
				if dotLess(x.d, d) {
					return -1
				}
				return 1
			})
			overlay[m] = slices.Insert(out, i, pgDot{d: d, meta: e.Meta})
		case PGLeave:
			if len(ds) == 0 {
				return &PreconditionError{Element: e.ID}
			}
			overlay[m] = slices.Clone(ds[1:])
		case PGLeaveAll:
			if len(ds) == 0 {
				return &PreconditionError{Element: e.ID}
			}
			overlay[m] = nil
		}
	}
	if p.members == nil && len(overlay) > 0 {
		p.members = make(map[PGMember]pgDots, len(overlay))
	}
	for m, ds := range overlay {
		if len(ds) == 0 {
			delete(p.members, m)
		} else {
			p.members[m] = ds
		}
	}
	p.clock = clock
	return nil
}

// ApplyOp applies a PGOp (Apply) or a PGPruneOp (Prune).
func (p *PG) ApplyOp(op Op, actor vclock.Actor, ctx Context) error {
	switch o := op.(type) {
	case PGOp:
		return p.Apply(o, actor, ctx)
	case PGPruneOp:
		if o.Node == "" {
			return fmt.Errorf("%w: pg prune needs a node name", ErrInvalidOp)
		}
		p.Prune(o)
		return nil
	}
	return mismatch(KindPG, op)
}

// Prune applies o (see PGPruneOp) and returns the number of members removed.
func (p *PG) Prune(o PGPruneOp) int {
	n := 0
	for m := range p.members {
		if m.Node == o.Node && (o.All || m.Incarnation < o.KeepIncarnation) {
			delete(p.members, m)
			n++
		}
	}
	return n
}

// PruneIncarnation removes every member of node with an incarnation older
// than keep (node restarted as keep): PGPruneOp{node, keep, false}.
func (p *PG) PruneIncarnation(node string, keep uint64) int {
	return p.Prune(PGPruneOp{Node: node, KeepIncarnation: keep})
}

// PruneNode removes every member of node (it left the cluster).
func (p *PG) PruneNode(node string) int { return p.Prune(PGPruneOp{Node: node, All: true}) }

func (p *PG) entries(keep func(PGMember) bool) []PGEntry {
	out := make([]PGEntry, 0, len(p.members))
	for m, ds := range p.members {
		if keep == nil || keep(m) {
			out = append(out, PGEntry{Node: m.Node, Incarnation: m.Incarnation, ID: m.ID,
				Count: len(ds), Meta: ds[len(ds)-1].meta})
		}
	}
	slices.SortFunc(out, func(a, b PGEntry) int { return comparePGMember(a.Member(), b.Member()) })
	return out
}

// Members returns every member, sorted by node, incarnation, id (a new
// slice, never nil).
func (p *PG) Members() []PGEntry { return p.entries(nil) }

// MembersOf returns the members owned by node.
func (p *PG) MembersOf(node string) []PGEntry {
	return p.entries(func(m PGMember) bool { return m.Node == node })
}

// Connected returns the members whose owner up reports reachable. It only
// hides the others: nothing is deleted during a partition.
func (p *PG) Connected(up func(node string) bool) []PGEntry {
	return p.entries(func(m PGMember) bool { return up(m.Node) })
}

// Count returns the join count of m (0 if absent).
func (p *PG) Count(m PGMember) int { return len(p.members[m]) }

// Len returns the number of members.
func (p *PG) Len() int { return len(p.members) }

// Value returns Members() as a []PGEntry.
func (p *PG) Value() any { return p.Members() }

// Context returns the zero Context: leaves act on the replica's state.
func (p *PG) Context() Context { return Context{} }

// Merge joins other into p: the clocks are joined; a member keeps the dots
// both sides hold plus the dots of either side the other's clock has not
// seen; members left without dots disappear.
func (p *PG) Merge(other CRDT) error {
	o, ok := other.(*PG)
	if !ok {
		return mismatch(KindPG, other)
	}
	if o == nil || o == p {
		return nil
	}
	for m, db := range o.members {
		if _, ok := p.members[m]; ok {
			continue
		}
		if ds := joinPGDots(nil, db, p.clock, o.clock); len(ds) > 0 {
			if p.members == nil {
				p.members = make(map[PGMember]pgDots)
			}
			p.members[m] = ds
		}
	}
	for m, da := range p.members {
		if ds := joinPGDots(da, o.members[m], p.clock, o.clock); len(ds) > 0 {
			p.members[m] = ds
		} else {
			delete(p.members, m)
		}
	}
	p.clock = vclock.Merge(p.clock, o.clock)
	return nil
}

// joinPGDots is joinDots for dots with metadata; it returns a new slice (or
// a when unchanged).
func joinPGDots(a, b pgDots, ca, cb vclock.VClock) pgDots {
	var out pgDots
	same := true
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && dotLess(a[i].d, b[j].d)):
			if !cb.Covers(a[i].d) {
				out = append(out, a[i])
			} else {
				same = false
			}
			i++
		case i == len(a) || dotLess(b[j].d, a[i].d):
			if !ca.Covers(b[j].d) {
				out = append(out, b[j])
				same = false
			}
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	if same && len(a) > 0 {
		return a
	}
	return out
}

// Clone returns a deep copy (dot slices are immutable and shared).
func (p *PG) Clone() CRDT { return &PG{clock: p.clock.Clone(), members: maps.Clone(p.members)} }

// Equal reports whether other is a pg with the same state.
func (p *PG) Equal(other CRDT) bool { return equalEncoding(p, other) }

// Stats reports actors, members and the largest join count.
func (p *PG) Stats() Stats {
	st := Stats{Actors: len(p.clock), Elements: len(p.members)}
	for _, ds := range p.members {
		st.MaxDots = max(st.MaxDots, len(ds))
	}
	return st
}

// MarshalBinary encodes the group: tag 'P', version, actor table and
// clock, then the members sorted by (node, incarnation, id), each as node,
// incarnation, id and its live dots, each dot followed by its metadata.
func (p *PG) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindPG, 16+len(p.clock)*12+len(p.members)*24)
	e.causalHeader(p.clock, nil)
	keys := slices.SortedFunc(maps.Keys(p.members), comparePGMember)
	e.uvarint(uint64(len(keys)))
	for _, m := range keys {
		e.str(m.Node)
		e.uvarint(m.Incarnation)
		e.str(m.ID)
		ds := p.members[m]
		e.uvarint(uint64(len(ds)))
		for _, x := range ds {
			e.dot(x.d)
			e.str(x.meta)
		}
	}
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (p *PG) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindPG)
	v := PG{clock: d.causalHeader()}
	n := d.count(6)
	if n > 0 {
		v.members = make(map[PGMember]pgDots, n)
	}
	var prev PGMember
	for i := 0; i < n && d.err == nil; i++ {
		m := PGMember{Node: d.str(), Incarnation: d.uvarint(), ID: d.str()}
		if d.err != nil {
			break
		}
		switch {
		case m.Node == "" || len(m.Node) > MaxPGName || len(m.ID) > MaxPGName:
			d.fail("pg member node or id length")
		case m.Incarnation == 0:
			d.fail("pg member incarnation 0")
		case i > 0 && comparePGMember(prev, m) >= 0:
			d.fail("pg members out of order")
		}
		prev = m
		k := d.count(3)
		if d.err == nil && k == 0 {
			d.fail("pg member without dots")
		}
		ds := make(pgDots, 0, k)
		for j := 0; j < k && d.err == nil; j++ {
			x := pgDot{d: d.dot(), meta: d.str()}
			if d.err != nil {
				break
			}
			if len(x.meta) > MaxPGMeta {
				d.fail("pg metadata too long")
			}
			if j > 0 && !dotLess(ds[j-1].d, x.d) {
				d.fail("pg dots out of order")
			}
			ds = append(ds, x)
		}
		v.members[m] = ds
	}
	if err := d.finish(); err != nil {
		return err
	}
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*p = v
	return nil
}
