package ring

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/riakgo/riakgo/vclock"
)

// State is the cluster state every node holds and gossips: riak_core's
// ring record (#chstate_v2{}) made a join-semilattice. It is an immutable
// value; every operation returns a new State and the zero State is empty
// (IsZero).
//
// The state is split the way A1.5's "design lesson" suggests, and every
// part merges as a CRDT, so Merge is commutative, associative and
// idempotent for all states, not only for those of valid histories:
//
//   - members: per node a multi-value register of (status clock, status,
//     meta) versions; concurrent versions are all kept, the status is read
//     through riak_core's precedence invalid > down > joining > valid >
//     exiting > leaving and the meta from the highest incarnation;
//   - ownership (owners, pending transfers, claimant): a multi-value
//     register versioned by the ring version rvsn, written only by the
//     claimant; concurrent versions (two claimants) are read by riak_core's
//     rule: the one whose claimant is still a member, then the smaller
//     claimant name;
//   - completed transfers: per source node a single-writer register (only
//     the node handing a partition off marks it complete);
//   - seen: per node the ring clock it has seen (vclock merge);
//   - staged changes: per node a multi-value register; committing or
//     clearing writes a tombstone;
//   - the ring clock: bumped by the node making each change.
//
// A State marshals with MarshalBinary (encoding/binary varints, see
// encode.go) for gossip and for the ring file.
type State struct{ d *data }

type data struct {
	cluster string
	size    int
	targetN int
	clock   vclock.VClock
	members map[NodeID][]memberVersion
	own     []ownVersion
	done    map[NodeID]doneRecord
	seen    map[NodeID]vclock.VClock
	staged  map[NodeID][]stagedVersion

	// Derived by finish.
	res  map[NodeID]Member
	cur  int // index of the resolved ownership version in own
	ring *Ring
}

// memberVersion is one version of a member's record.
type memberVersion struct {
	clock       vclock.VClock
	status      Status
	meta        MemberMeta
	replacement NodeID
	epoch       uint32
}

// nextEntry is a pending ownership transfer of Partition from its current
// owner (owners[Partition] of the same version) to To. ID is the claimant
// event that scheduled it, so a completion mark can never be mistaken for
// a later transfer of the same partition between the same nodes.
type nextEntry struct {
	Partition int
	To        NodeID
	ID        vclock.Dot
}

// ownVersion is one version of the ownership register.
type ownVersion struct {
	rvsn     vclock.VClock
	claimant NodeID
	owners   []NodeID
	next     []nextEntry // sorted by partition, at most one each
}

// transferKey names one scheduled transfer.
type transferKey struct {
	Partition int
	ID        vclock.Dot
}

// doneRecord is a source node's completed transfers, versioned by a
// counter only that node increments.
type doneRecord struct {
	counter uint64
	keys    []transferKey // sorted
}

// stagedVersion is one version of a node's staged change (Action
// actionNone once committed or cleared).
type stagedVersion struct {
	clock  vclock.VClock
	action Action
	target NodeID
}

// IsZero reports whether s is the zero State.
func (s State) IsZero() bool { return s.d == nil }

// NewState returns a fresh single-node cluster: self is the only member,
// valid, the claimant, and owns every partition. cluster names the
// cluster (riak_core uses {seed node, timestamp}; gossip between clusters
// with different names is ignored). targetN 0 means DefaultTargetN. now is
// Unix seconds, used only as clock timestamps.
func NewState(cluster string, size, targetN int, self NodeID, meta MemberMeta, now int64) (State, error) {
	if cluster == "" || self == "" {
		return State{}, fmt.Errorf("%w: empty cluster or node name", ErrBadChange)
	}
	if targetN == 0 {
		targetN = DefaultTargetN
	}
	if targetN < 1 || targetN > MaxTargetN {
		return State{}, fmt.Errorf("%w: target_n %d out of 1..%d", ErrBadChange, targetN, MaxTargetN)
	}
	if size < 1 || size > MaxSize || size&(size-1) != 0 {
		return State{}, fmt.Errorf("%w (got %d)", ErrBadSize, size)
	}
	owners := make([]NodeID, size)
	for i := range owners {
		owners[i] = self
	}
	d := &data{
		cluster: cluster, size: size, targetN: targetN,
		members: map[NodeID][]memberVersion{},
		done:    map[NodeID]doneRecord{},
		seen:    map[NodeID]vclock.VClock{},
		staged:  map[NodeID][]stagedVersion{},
	}
	d.setMember(self, self, StatusValid, meta, "", 0, now)
	d.setOwnership(self, self, owners, nil, now)
	d.tick(self, now)
	return d.finish(), nil
}

// edit returns a copy of s's data that can be changed without changing s:
// the maps are copied, the versions they hold are immutable and shared.
func (s State) edit() *data {
	d := *s.d
	d.members = maps.Clone(s.d.members)
	d.own = slices.Clone(s.d.own)
	d.done = maps.Clone(s.d.done)
	d.seen = maps.Clone(s.d.seen)
	d.staged = maps.Clone(s.d.staged)
	d.res, d.ring = nil, nil
	return &d
}

// finish computes the derived fields and wraps d.
func (d *data) finish() State {
	d.res = make(map[NodeID]Member, len(d.members))
	for n, vs := range d.members {
		d.res[n] = resolveMember(n, vs)
	}
	d.cur = 0
	for i := 1; i < len(d.own); i++ {
		if d.ownBetter(d.own[i], d.own[d.cur]) {
			d.cur = i
		}
	}
	d.ring = &Ring{owners: d.own[d.cur].owners, shift: shiftFor(d.size)}
	return State{d}
}

// ownBetter orders concurrent ownership versions: a claimant that is still
// a member (any status but invalid) wins, then the smaller claimant name,
// then the greater encoding (so the choice is total).
func (d *data) ownBetter(a, b ownVersion) bool {
	am, bm := d.isMember(a.claimant), d.isMember(b.claimant)
	if am != bm {
		return am
	}
	if a.claimant != b.claimant {
		return a.claimant < b.claimant
	}
	return bytes.Compare(keyOf(a), keyOf(b)) > 0
}

func (d *data) isMember(n NodeID) bool {
	m, ok := d.res[n]
	return ok && m.Status != StatusInvalid
}

// resolveMember reads a member register. Each part is resolved on its
// own, so that concurrent writes of different parts all take effect:
// the status by riak_core's precedence (the replacement goes with it),
// the meta from the version with the highest incarnation (the node's own
// writes), the epoch as the highest; remaining ties by encoding.
func resolveMember(n NodeID, vs []memberVersion) Member {
	st, mt := vs[0], vs[0]
	var epoch uint32
	for i, v := range vs {
		epoch = max(epoch, v.epoch)
		if i == 0 {
			continue
		}
		if bp, vp := st.status.precedence(), v.status.precedence(); vp > bp || (vp == bp && bytes.Compare(keyOf(v), keyOf(st)) > 0) {
			st = v
		}
		if v.meta.Incarnation > mt.meta.Incarnation || (v.meta.Incarnation == mt.meta.Incarnation && bytes.Compare(keyOf(v), keyOf(mt)) > 0) {
			mt = v
		}
	}
	return Member{Node: n, Status: st.status, Meta: mt.meta, ReplacedBy: st.replacement, Epoch: epoch}
}

// resolveStaged reads a staged-change register: a change beats a
// tombstone (so a change staged concurrently with a commit survives to the
// next plan), then the greater encoding.
func resolveStaged(vs []stagedVersion) stagedVersion {
	best := vs[0]
	for _, v := range vs[1:] {
		if (v.action != actionNone) != (best.action != actionNone) {
			if v.action != actionNone {
				best = v
			}
			continue
		}
		if bytes.Compare(keyOf(v), keyOf(best)) > 0 {
			best = v
		}
	}
	return best
}

// versioned is a register version: its clock and a canonical encoding
// that names nodes inline.
type versioned interface {
	vclk() vclock.VClock
	encode(e *encoder)
}

func (v memberVersion) vclk() vclock.VClock { return v.clock }
func (v ownVersion) vclk() vclock.VClock    { return v.rvsn }
func (v stagedVersion) vclk() vclock.VClock { return v.clock }

func keyOf(v versioned) []byte {
	e := encoder{}
	v.encode(&e)
	return e.b
}

// antichain reduces a multi-value register to its maximal versions: a
// version is dropped if another's clock strictly descends its clock, or if
// another has an equal clock and a greater encoding (which only a broken
// history produces). The survivors are sorted by encoding. This is the
// join of the register lattice, so it is associative, commutative and
// idempotent.
func antichain[T versioned](vs []T) []T {
	keys := make([][]byte, len(vs))
	for i, v := range vs {
		keys[i] = keyOf(v)
	}
	out := make([]T, 0, len(vs))
	var outKeys [][]byte
	for i, v := range vs {
		keep := true
		for j, w := range vs {
			if i == j {
				continue
			}
			switch vclock.Compare(w.vclk(), v.vclk()) {
			case vclock.After:
				keep = false
			case vclock.Equal:
				if c := bytes.Compare(keys[j], keys[i]); c > 0 || (c == 0 && j < i) {
					keep = false
				}
			}
			if !keep {
				break
			}
		}
		if keep {
			out = append(out, v)
			outKeys = append(outKeys, keys[i])
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return bytes.Compare(outKeys[idx[a]], outKeys[idx[b]]) < 0 })
	sorted := make([]T, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	return sorted
}

// mergeClocks is the least upper bound of the versions' clocks.
func mergeClocks[T versioned](vs []T) vclock.VClock {
	var out vclock.VClock
	for _, v := range vs {
		out = vclock.Merge(out, v.vclk())
	}
	return out
}

// actor returns n's actor: its name and the epoch of its member record.
func (d *data) actor(n NodeID) vclock.Actor {
	var epoch uint32
	if vs := d.members[n]; len(vs) > 0 {
		epoch = resolveMember(n, vs).Epoch
	}
	return ActorOf(n, epoch)
}

// setMember writes node's record as by: one version whose clock descends
// every current version. A node writing its own record writes with the
// record's epoch (Join starts a new one).
func (d *data) setMember(by, node NodeID, st Status, meta MemberMeta, repl NodeID, epoch uint32, now int64) {
	a := d.actor(by)
	if by == node {
		a = ActorOf(node, epoch)
	}
	c, _ := mergeClocks(d.members[node]).Increment(a, now)
	d.members[node] = []memberVersion{{clock: c, status: st, meta: meta, replacement: repl, epoch: epoch}}
	d.res = nil
}

// setOwnership writes the ownership register as by (the claimant). next
// entries with a zero ID get the dot of this write.
func (d *data) setOwnership(by, claimant NodeID, owners []NodeID, next []nextEntry, now int64) {
	rv, dot := mergeClocks(d.own).Increment(d.actor(by), now)
	next = slices.Clone(next)
	for i := range next {
		if next[i].ID.IsZero() {
			next[i].ID = dot
		}
	}
	sort.Slice(next, func(a, b int) bool { return next[a].Partition < next[b].Partition })
	d.own = []ownVersion{{rvsn: rv, claimant: claimant, owners: slices.Clone(owners), next: next}}
}

// setStaged writes node's staged change as by.
func (d *data) setStaged(by, node NodeID, a Action, target NodeID, now int64) {
	c, _ := mergeClocks(d.staged[node]).Increment(d.actor(by), now)
	d.staged[node] = []stagedVersion{{clock: c, action: a, target: target}}
}

// tick records one change by by: the ring clock gets an event and by has
// seen the result.
func (d *data) tick(by NodeID, now int64) {
	d.clock, _ = d.clock.Increment(d.actor(by), now)
	d.seen[by] = vclock.Merge(d.seen[by], d.clock)
}

// current returns the resolved ownership version.
func (s State) current() ownVersion { return s.d.own[s.d.cur] }

// ClusterName returns the cluster's name.
func (s State) ClusterName() string { return s.d.cluster }

// Size returns the number of partitions.
func (s State) Size() int { return s.d.size }

// TargetN returns the cluster's target_n_val, which claim keeps.
func (s State) TargetN() int { return s.d.targetN }

// Clock returns the ring's version vector (riak_core's vclock).
func (s State) Clock() vclock.VClock { return s.d.clock.Clone() }

// RingVersion returns the ownership version vector (riak_core's rvsn) of
// the resolved ownership.
func (s State) RingVersion() vclock.VClock { return s.current().rvsn.Clone() }

// Ring returns the current ownership as a Ring (for preference lists).
func (s State) Ring() *Ring { return s.d.ring }

// Owners returns the current owner of every partition.
func (s State) Owners() []NodeID { return slices.Clone(s.current().owners) }

// FutureOwners returns the owners once every pending transfer completes.
func (s State) FutureOwners() []NodeID {
	cur := s.current()
	out := slices.Clone(cur.owners)
	for _, e := range cur.next {
		out[e.Partition] = e.To
	}
	return out
}

// Claimant returns the node allowed to change ownership.
func (s State) Claimant() NodeID { return s.current().claimant }

// Member returns the resolved record of node n.
func (s State) Member(n NodeID) (Member, bool) {
	m, ok := s.d.res[n]
	return m, ok
}

// Status returns n's status, or 0 if n was never a member.
func (s State) Status(n NodeID) Status { return s.d.res[n].Status }

// Members returns every member, invalid ones included, sorted by node.
func (s State) Members() []Member {
	out := make([]Member, 0, len(s.d.res))
	for _, m := range s.d.res {
		out = append(out, m)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Node < out[b].Node })
	return out
}

// MembersWith returns the nodes whose status is one of sts, sorted.
func (s State) MembersWith(sts ...Status) []NodeID {
	var out []NodeID
	for n, m := range s.d.res {
		if slices.Contains(sts, m.Status) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Seen returns the ring clock n is known to have seen.
func (s State) Seen(n NodeID) vclock.VClock { return s.d.seen[n].Clone() }

// Ready reports riak_core's ring_ready: every valid, leaving or exiting
// member has seen exactly this ring's clock. The claimant changes
// ownership, and plan and commit proceed, only on a ready ring.
func (s State) Ready() bool {
	for n, m := range s.d.res {
		switch m.Status {
		case StatusValid, StatusLeaving, StatusExiting:
			if !s.d.seen[n].Equal(s.d.clock) {
				return false
			}
		}
	}
	return true
}

// Observe returns s with self recorded as having seen s's ring clock. It
// is not a change (the ring clock does not move); a node calls it after
// every merge so that Ready can become true.
func (s State) Observe(self NodeID) State {
	if s.d.seen[self].Equal(s.d.clock) {
		return s
	}
	d := s.edit()
	d.seen[self] = vclock.Merge(d.seen[self], d.clock)
	return d.finish()
}

// Transfer is one pending ownership transfer (an entry of riak_core's
// next list): Partition moves From its current owner To the next owner.
// Complete is set once From has handed everything off; the claimant then
// makes To the owner.
type Transfer struct {
	Partition int
	From, To  NodeID
	Complete  bool
}

// Transfers returns the pending transfers by partition.
func (s State) Transfers() []Transfer {
	cur := s.current()
	out := make([]Transfer, len(cur.next))
	for i, e := range cur.next {
		from := cur.owners[e.Partition]
		out[i] = Transfer{Partition: e.Partition, From: from, To: e.To, Complete: s.isDone(from, e)}
	}
	return out
}

func (s State) isDone(from NodeID, e nextEntry) bool {
	k := transferKey{e.Partition, e.ID}
	keys := s.d.done[from].keys
	i := sort.Search(len(keys), func(i int) bool { return !keyLess(keys[i], k) })
	return i < len(keys) && keys[i] == k
}

func keyLess(a, b transferKey) bool {
	if a.Partition != b.Partition {
		return a.Partition < b.Partition
	}
	if a.ID.Actor != b.ID.Actor {
		return a.ID.Actor.Less(b.ID.Actor)
	}
	return a.ID.Counter < b.ID.Counter
}

// Staged returns the staged changes (not the implicit joins), by node.
func (s State) Staged() []Change {
	var out []Change
	for n, vs := range s.d.staged {
		if v := resolveStaged(vs); v.action != actionNone {
			out = append(out, Change{Node: n, Action: v.action, Target: v.target})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Node < out[b].Node })
	return out
}

// Equal reports whether a and b are the same state (same encoding).
func Equal(a, b State) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	x, _ := a.MarshalBinary()
	y, _ := b.MarshalBinary()
	return bytes.Equal(x, y)
}

// String summarises the state for logs.
func (s State) String() string {
	if s.IsZero() {
		return "ring.State{}"
	}
	return fmt.Sprintf("ring.State{%s Q=%d members=%d claimant=%s pending=%d clock=%s}",
		s.d.cluster, s.d.size, len(s.d.res), s.Claimant(), len(s.current().next), s.d.clock)
}

func shiftFor(size int) uint {
	k := uint(0)
	for 1<<k < size {
		k++
	}
	return 64 - k
}
