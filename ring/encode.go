package ring

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/riakgo/riakgo/vclock"
)

// The state's binary form, version 1. Integers are unsigned varints
// (encoding/binary), strings and clocks are length-prefixed (clocks in
// vclock's own binary form), and node names are written once, in a sorted
// table, and referred to by index elsewhere (so a 1024-partition owner
// list costs about a byte per partition):
//
//	version(1) cluster size targetN
//	nodes: count, names (sorted, distinct, non-empty)
//	clock
//	members: count, then by node: node, count, versions
//	    version: clock status(1 byte) gossip internode http incarnation replacement? epoch
//	ownership: count, versions
//	    version: rvsn claimant owners[size] next: count, (partition to dot)…
//	done: count, then by node: node counter count (partition dot)…
//	seen: count, then by node: node clock
//	staged: count, then by node: node count, versions
//	    version: clock action(1 byte) target?
//
// where x? is 0 for none or index+1, and a dot is actor id, epoch,
// counter. The form is canonical: UnmarshalBinary accepts only bytes that
// MarshalBinary of the decoded state reproduces exactly, so equal states
// have equal bytes and Equal can compare encodings.
const stateEncodingVersion = 1

// encoder appends the binary form. With ref nil it writes node names
// inline: that form orders register versions independently of any table.
type encoder struct {
	b   []byte
	ref map[NodeID]int
}

func (e *encoder) uv(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) byte1(v uint8) { e.b = append(e.b, v) }

func (e *encoder) str(s string) {
	e.uv(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) node(n NodeID) {
	if e.ref == nil {
		e.str(string(n))
		return
	}
	e.uv(uint64(e.ref[n]))
}

func (e *encoder) optNode(n NodeID) {
	switch {
	case n == "":
		e.uv(0)
	case e.ref == nil:
		e.uv(1)
		e.str(string(n))
	default:
		e.uv(uint64(e.ref[n]) + 1)
	}
}

func (e *encoder) clock(c vclock.VClock) {
	bs := c.AppendBinary(nil)
	e.uv(uint64(len(bs)))
	e.b = append(e.b, bs...)
}

func (e *encoder) dot(d vclock.Dot) {
	e.uv(d.Actor.ID)
	e.uv(uint64(d.Actor.Epoch))
	e.uv(d.Counter)
}

func (v memberVersion) encode(e *encoder) {
	e.clock(v.clock)
	e.byte1(uint8(v.status))
	e.str(v.meta.GossipAddr)
	e.str(v.meta.InternodeAddr)
	e.str(v.meta.HTTPAddr)
	e.uv(v.meta.Incarnation)
	e.optNode(v.replacement)
	e.uv(uint64(v.epoch))
}

func (v ownVersion) encode(e *encoder) {
	e.clock(v.rvsn)
	e.node(v.claimant)
	for _, o := range v.owners {
		e.node(o)
	}
	e.uv(uint64(len(v.next)))
	for _, n := range v.next {
		e.uv(uint64(n.Partition))
		e.node(n.To)
		e.dot(n.ID)
	}
}

func (v stagedVersion) encode(e *encoder) {
	e.clock(v.clock)
	e.byte1(uint8(v.action))
	e.optNode(v.target)
}

// MarshalBinary returns the canonical binary form of s (see above). It is
// what gossip carries and what the ring file holds.
func (s State) MarshalBinary() ([]byte, error) {
	if s.IsZero() {
		return nil, ErrZeroState
	}
	return s.d.appendBinary(nil), nil
}

func (d *data) appendBinary(b []byte) []byte {
	names := d.nodeNames()
	e := encoder{b: b, ref: make(map[NodeID]int, len(names))}
	for i, n := range names {
		e.ref[n] = i
	}
	e.byte1(stateEncodingVersion)
	e.str(d.cluster)
	e.uv(uint64(d.size))
	e.uv(uint64(d.targetN))
	e.uv(uint64(len(names)))
	for _, n := range names {
		e.str(string(n))
	}
	e.clock(d.clock)

	e.uv(uint64(len(d.members)))
	for _, n := range sortedKeys(d.members) {
		e.node(n)
		e.uv(uint64(len(d.members[n])))
		for _, v := range d.members[n] {
			v.encode(&e)
		}
	}
	e.uv(uint64(len(d.own)))
	for _, v := range d.own {
		v.encode(&e)
	}
	e.uv(uint64(len(d.done)))
	for _, n := range sortedKeys(d.done) {
		r := d.done[n]
		e.node(n)
		e.uv(r.counter)
		e.uv(uint64(len(r.keys)))
		for _, k := range r.keys {
			e.uv(uint64(k.Partition))
			e.dot(k.ID)
		}
	}
	e.uv(uint64(len(d.seen)))
	for _, n := range sortedKeys(d.seen) {
		e.node(n)
		e.clock(d.seen[n])
	}
	e.uv(uint64(len(d.staged)))
	for _, n := range sortedKeys(d.staged) {
		e.node(n)
		e.uv(uint64(len(d.staged[n])))
		for _, v := range d.staged[n] {
			v.encode(&e)
		}
	}
	return e.b
}

// nodeNames returns every node name the state mentions, sorted.
func (d *data) nodeNames() []NodeID {
	set := map[NodeID]struct{}{}
	add := func(n NodeID) {
		if n != "" {
			set[n] = struct{}{}
		}
	}
	for n, vs := range d.members {
		add(n)
		for _, v := range vs {
			add(v.replacement)
		}
	}
	for _, v := range d.own {
		add(v.claimant)
		for _, o := range v.owners {
			add(o)
		}
		for _, x := range v.next {
			add(x.To)
		}
	}
	for n := range d.done {
		add(n)
	}
	for n := range d.seen {
		add(n)
	}
	for n, vs := range d.staged {
		add(n)
		for _, v := range vs {
			add(v.target)
		}
	}
	return sortedKeys(set)
}

func sortedKeys[V any](m map[NodeID]V) []NodeID {
	out := make([]NodeID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// decoder reads the binary form; the first error sticks.
type decoder struct {
	b     []byte
	err   error
	names []NodeID
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return v
}

// count reads a length whose elements take at least min bytes each, so a
// hostile length cannot make the decoder allocate more than the input.
func (d *decoder) count(min int) int {
	v := d.uv()
	if v > uint64(len(d.b)/min) {
		d.fail("count %d exceeds the input", v)
		return 0
	}
	return int(v)
}

func (d *decoder) byte1() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) node() NodeID {
	i := d.uv()
	if d.err == nil && i >= uint64(len(d.names)) {
		d.fail("node index %d out of range", i)
		return ""
	}
	if d.err != nil {
		return ""
	}
	return d.names[i]
}

func (d *decoder) optNode() NodeID {
	i := d.uv()
	if i == 0 || d.err != nil {
		return ""
	}
	if i > uint64(len(d.names)) {
		d.fail("node index %d out of range", i-1)
		return ""
	}
	return d.names[i-1]
}

func (d *decoder) clock() vclock.VClock {
	b := d.raw()
	if d.err != nil {
		return nil
	}
	var c vclock.VClock
	if err := c.UnmarshalBinary(b); err != nil {
		d.fail("clock: %v", err)
	}
	return c
}

// partition reads a partition number below size.
func (d *decoder) partition(size int) int {
	v := d.uv()
	if d.err == nil && v >= uint64(size) {
		d.fail("partition %d out of range", v)
		return 0
	}
	return int(v)
}

func (d *decoder) dot() vclock.Dot {
	var x vclock.Dot
	x.Actor.ID = d.uv()
	ep := d.uv()
	if ep > 1<<32-1 {
		d.fail("bad epoch")
	}
	x.Actor.Epoch = uint32(ep)
	x.Counter = d.uv()
	if d.err == nil && (x.Counter == 0 || x.Actor.IsZero()) {
		d.fail("zero dot")
	}
	return x
}

// UnmarshalBinary decodes a state produced by MarshalBinary. It rejects
// anything else: unknown versions, truncated or trailing bytes, indices
// out of range, invalid statuses, clocks or partitions, broken invariants
// (a transfer to the partition's current owner, two transfers of one
// partition, a register with no version) and non-canonical forms.
func (s *State) UnmarshalBinary(b []byte) error {
	dec := &decoder{b: b}
	if v := dec.byte1(); dec.err == nil && v != stateEncodingVersion {
		return fmt.Errorf("%w: unknown version %d", ErrMalformed, v)
	}
	d := &data{
		members: map[NodeID][]memberVersion{},
		done:    map[NodeID]doneRecord{},
		seen:    map[NodeID]vclock.VClock{},
		staged:  map[NodeID][]stagedVersion{},
	}
	d.cluster = dec.str()
	size := dec.uv()
	tn := dec.uv()
	if dec.err == nil {
		if d.cluster == "" {
			dec.fail("empty cluster name")
		}
		if size < 1 || size > MaxSize || size&(size-1) != 0 {
			dec.fail("ring size %d", size)
		}
		if tn < 1 || tn > MaxTargetN {
			dec.fail("target_n %d", tn)
		}
	}
	d.size, d.targetN = int(size), int(tn)
	nn := dec.count(2)
	for i := 0; i < nn && dec.err == nil; i++ {
		n := NodeID(dec.str())
		if n == "" {
			dec.fail("empty node name")
		}
		dec.names = append(dec.names, n)
	}
	d.clock = dec.clock()

	nm := dec.count(3)
	for i := 0; i < nm && dec.err == nil; i++ {
		n := dec.node()
		vs := make([]memberVersion, dec.count(9))
		if len(vs) == 0 {
			dec.fail("member %q without versions", n)
		}
		for j := range vs {
			v := &vs[j]
			v.clock = dec.clock()
			v.status = Status(dec.byte1())
			v.meta.GossipAddr = dec.str()
			v.meta.InternodeAddr = dec.str()
			v.meta.HTTPAddr = dec.str()
			v.meta.Incarnation = dec.uv()
			v.replacement = dec.optNode()
			ep := dec.uv()
			if ep > 1<<32-1 {
				dec.fail("bad epoch")
			}
			v.epoch = uint32(ep)
			if dec.err == nil && !v.status.valid() {
				dec.fail("status %d", v.status)
			}
		}
		d.members[n] = vs
	}
	no := dec.count(d.size + 4)
	if dec.err == nil && no == 0 {
		dec.fail("no ownership version")
	}
	for i := 0; i < no && dec.err == nil; i++ {
		var v ownVersion
		v.rvsn = dec.clock()
		v.claimant = dec.node()
		v.owners = make([]NodeID, d.size)
		for p := range v.owners {
			v.owners[p] = dec.node()
		}
		nx := dec.count(5)
		for j := 0; j < nx && dec.err == nil; j++ {
			e := nextEntry{Partition: dec.partition(d.size), To: dec.node(), ID: dec.dot()}
			if dec.err != nil {
				break
			}
			switch {
			case j > 0 && e.Partition <= v.next[j-1].Partition:
				dec.fail("transfers out of order")
			case e.To == v.owners[e.Partition]:
				dec.fail("transfer of %d to its owner", e.Partition)
			}
			v.next = append(v.next, e)
		}
		d.own = append(d.own, v)
	}
	nd := dec.count(3)
	for i := 0; i < nd && dec.err == nil; i++ {
		n := dec.node()
		var r doneRecord
		r.counter = dec.uv()
		nk := dec.count(4)
		for j := 0; j < nk && dec.err == nil; j++ {
			k := transferKey{Partition: dec.partition(d.size), ID: dec.dot()}
			if dec.err == nil && j > 0 && !keyLess(r.keys[j-1], k) {
				dec.fail("completed transfers out of order")
			}
			r.keys = append(r.keys, k)
		}
		d.done[n] = r
	}
	ns := dec.count(3)
	for i := 0; i < ns && dec.err == nil; i++ {
		n := dec.node()
		d.seen[n] = dec.clock()
	}
	nst := dec.count(4)
	for i := 0; i < nst && dec.err == nil; i++ {
		n := dec.node()
		vs := make([]stagedVersion, dec.count(4))
		if len(vs) == 0 {
			dec.fail("staged change of %q without versions", n)
		}
		for j := range vs {
			v := &vs[j]
			v.clock = dec.clock()
			v.action = Action(dec.byte1())
			v.target = dec.optNode()
			if dec.err == nil && !v.action.valid() {
				dec.fail("action %d", v.action)
			}
		}
		d.staged[n] = vs
	}
	if dec.err != nil {
		return dec.err
	}
	if len(dec.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(dec.b))
	}
	if len(d.members) == 0 {
		return fmt.Errorf("%w: no members", ErrMalformed)
	}
	// Canonical: registers reduced, everything sorted, minimal varints, no
	// unused names. Re-encoding the normalised state must give b back.
	for n, vs := range d.members {
		d.members[n] = antichain(vs)
	}
	d.own = antichain(d.own)
	for n, vs := range d.staged {
		d.staged[n] = antichain(vs)
	}
	if !bytes.Equal(d.appendBinary(nil), b) {
		return fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	*s = d.finish()
	return nil
}

// sortKeys sorts and de-duplicates transfer keys.
func sortKeys(ks []transferKey) []transferKey {
	sort.Slice(ks, func(a, b int) bool { return keyLess(ks[a], ks[b]) })
	return slices.CompactFunc(ks, func(a, b transferKey) bool { return a == b })
}
