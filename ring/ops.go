package ring

import (
	"fmt"
	"slices"
)

// Every change below is made "as" a node (by or self): that node's actor
// gets an event in the clocks it touches and it is recorded as having seen
// the result. now is Unix seconds and only stamps clock entries. On error
// the state is returned unchanged.

// Join is "cluster join" on the joining node self: it adopts the seed's
// state (fetched from any member) and adds itself as joining. A commit
// then makes it valid. local is self's current state (zero for none):
// a node that is in a cluster of its own with other members cannot join
// (ErrNotSingleNode), nor can one whose ring size differs
// (ErrSizeMismatch), nor a node that is already a member of seed's
// cluster (ErrAlreadyMember; a removed, invalid, node may join again).
func Join(local, seed State, self NodeID, meta MemberMeta, now int64) (State, error) {
	if seed.IsZero() {
		return local, ErrZeroState
	}
	if self == "" {
		return local, fmt.Errorf("%w: empty node name", ErrBadChange)
	}
	if m, ok := seed.Member(self); ok && m.Status != StatusInvalid {
		return local, fmt.Errorf("%w: %s", ErrAlreadyMember, self)
	}
	if !local.IsZero() {
		if local.d.size != seed.d.size || local.d.targetN != seed.d.targetN {
			return local, fmt.Errorf("%w: ring size %d, seed's %d", ErrSizeMismatch, local.d.size, seed.d.size)
		}
		for n, m := range local.d.res {
			if n != self && m.Status != StatusInvalid {
				return local, ErrNotSingleNode
			}
		}
	}
	// A fresh epoch if the seed's ring ever saw this name.
	var epoch uint32
	id := ActorOf(self, 0).ID
	for _, e := range seed.d.clock {
		if e.Actor.ID == id && e.Actor.Epoch >= epoch {
			epoch = e.Actor.Epoch + 1
		}
	}
	d := seed.edit()
	d.setMember(self, self, StatusJoining, meta, "", epoch, now)
	d.tick(self, now)
	return d.finish(), nil
}

// Recover is how a member that lost its state (its data directory was
// wiped) takes its cluster's back: seed's state, in which self is still a
// member, with self's record rewritten under a fresh epoch (so that no
// event of the lost state is issued twice) and its new meta. Self keeps
// its status and ownership; its data comes back through anti-entropy and
// read repair. ErrNotMember if seed does not list self.
func Recover(seed State, self NodeID, meta MemberMeta, now int64) (State, error) {
	if seed.IsZero() {
		return seed, ErrZeroState
	}
	m, ok := seed.Member(self)
	if !ok || m.Status == StatusInvalid {
		return seed, fmt.Errorf("%w: %s", ErrNotMember, self)
	}
	epoch := m.Epoch + 1
	id := ActorOf(self, 0).ID
	for _, e := range seed.d.clock {
		if e.Actor.ID == id && e.Actor.Epoch >= epoch {
			epoch = e.Actor.Epoch + 1
		}
	}
	d := seed.edit()
	d.setMember(self, self, m.Status, meta, m.ReplacedBy, epoch, now)
	d.tick(self, now)
	return d.finish(), nil
}

// Stage records a change for the next plan, as "cluster leave",
// "force-remove", "replace" and "force-replace" do. Any member may stage;
// the change travels with the state and the claimant commits it. A later
// Stage for the same node replaces the earlier one. It validates as
// riak_core_claimant does: ErrNotMember, ErrOnlyMember, ErrAlreadyLeaving,
// ErrIsClaimant (force-remove or force-replace of the claimant),
// ErrNotJoining (the replacement must have joined), ErrAlreadyReplacement.
func (s State) Stage(by NodeID, c Change, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	switch c.Action {
	case ActionLeave, ActionRemove:
		c.Target = ""
	case ActionReplace, ActionForceReplace:
	default:
		return s, fmt.Errorf("%w: cannot stage %v", ErrBadChange, c.Action)
	}
	if err := s.applicable(c); err != nil {
		return s, err
	}
	d := s.edit()
	d.setStaged(by, c.Node, c.Action, c.Target, now)
	d.tick(by, now)
	return d.finish(), nil
}

// applicable checks a staged change against the current members.
func (s State) applicable(c Change) error {
	st := s.Status(c.Node)
	if st == 0 || st == StatusInvalid {
		return fmt.Errorf("%w: %s", ErrNotMember, c.Node)
	}
	active := s.MembersWith(StatusValid, StatusLeaving, StatusJoining, StatusDown)
	switch c.Action {
	case ActionJoin:
		if st != StatusJoining {
			return fmt.Errorf("%w: %s is %v", ErrAlreadyMember, c.Node, st)
		}
		return nil
	case ActionLeave:
		switch st {
		case StatusLeaving, StatusExiting:
			return fmt.Errorf("%w: %s", ErrAlreadyLeaving, c.Node)
		case StatusValid:
		default:
			return fmt.Errorf("%w: %s is %v", ErrNotMember, c.Node, st)
		}
		if len(s.MembersWith(StatusValid)) == 1 {
			return fmt.Errorf("%w: %s", ErrOnlyMember, c.Node)
		}
	case ActionRemove:
		if c.Node == s.Claimant() {
			return fmt.Errorf("%w: %s", ErrIsClaimant, c.Node)
		}
		if len(active) == 1 {
			return fmt.Errorf("%w: %s", ErrOnlyMember, c.Node)
		}
	case ActionReplace, ActionForceReplace:
		if c.Target == "" || c.Target == c.Node {
			return fmt.Errorf("%w: %s cannot replace %s", ErrBadChange, c.Target, c.Node)
		}
		if c.Action == ActionReplace {
			if st != StatusValid {
				if st == StatusLeaving || st == StatusExiting {
					return fmt.Errorf("%w: %s", ErrAlreadyLeaving, c.Node)
				}
				return fmt.Errorf("%w: %s is %v", ErrNotMember, c.Node, st)
			}
		} else if c.Node == s.Claimant() {
			return fmt.Errorf("%w: %s", ErrIsClaimant, c.Node)
		}
		if s.Status(c.Target) != StatusJoining {
			return fmt.Errorf("%w: %s", ErrNotJoining, c.Target)
		}
		for _, o := range s.Staged() {
			if o.Node != c.Node && o.Target == c.Target {
				return fmt.Errorf("%w: %s already replaces %s", ErrAlreadyReplacement, c.Target, o.Node)
			}
		}
	default:
		return fmt.Errorf("%w: %v", ErrBadChange, c.Action)
	}
	return nil
}

// Clear is "cluster clear": it discards the staged changes and, because
// joins are not staged, marks every joining node invalid, as riak_core
// does (they must join again). by must be a valid or leaving member
// (riak_core runs clear on the claimant); a joining node would remove
// itself (ErrBadChange).
func (s State) Clear(by NodeID, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	if st := s.Status(by); st != StatusValid && st != StatusLeaving {
		return s, fmt.Errorf("%w: clear by a %v node", ErrBadChange, st)
	}
	staged := s.Staged()
	joining := s.MembersWith(StatusJoining)
	if len(staged) == 0 && len(joining) == 0 {
		return s, nil
	}
	d := s.edit()
	for _, c := range staged {
		d.setStaged(by, c.Node, actionNone, "", now)
	}
	for _, n := range joining {
		d.setMember(by, n, StatusInvalid, s.d.res[n].Meta, "", s.d.res[n].Epoch, now)
	}
	d.tick(by, now)
	return d.finish(), nil
}

// MarkDown is "riak-admin down": by marks node (which the caller has
// checked is unreachable) down, so that the ring can be ready without it.
// A down node keeps its partitions; if it was the claimant, the first
// valid member takes over on its next Advance. Staged changes are kept.
func (s State) MarkDown(by, node NodeID, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	if by == node {
		return s, fmt.Errorf("%w: a node cannot mark itself down", ErrBadChange)
	}
	m, ok := s.Member(node)
	if !ok || m.Status == StatusInvalid {
		return s, fmt.Errorf("%w: %s", ErrNotMember, node)
	}
	if m.Status == StatusDown {
		return s, nil
	}
	d := s.edit()
	d.setMember(by, node, StatusDown, m.Meta, "", m.Epoch, now)
	d.tick(by, now)
	return d.finish(), nil
}

// Rejoin is what a node marked down does when it learns so (a node that
// receives its gossip replies with ReplyRejoin, i.e. sends its state back,
// and Advance calls Rejoin): it becomes valid again if it still owns
// partitions, joining (waiting for a commit) otherwise. Any other status
// is left alone.
func (s State) Rejoin(self NodeID, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	m, ok := s.Member(self)
	if !ok || m.Status != StatusDown {
		return s, nil
	}
	st := StatusJoining
	if slices.Contains(s.current().owners, self) {
		st = StatusValid
	}
	d := s.edit()
	d.setMember(self, self, st, m.Meta, "", m.Epoch, now)
	d.tick(self, now)
	return d.finish(), nil
}

// UpdateMeta publishes self's new addresses or incarnation.
func (s State) UpdateMeta(self NodeID, meta MemberMeta, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	m, ok := s.Member(self)
	if !ok || m.Status == StatusInvalid {
		return s, fmt.Errorf("%w: %s", ErrNotMember, self)
	}
	if m.Meta == meta {
		return s, nil
	}
	d := s.edit()
	d.setMember(self, self, m.Status, meta, m.ReplacedBy, m.Epoch, now)
	d.tick(self, now)
	return d.finish(), nil
}

// CompleteTransfer records, on the source node self, that partition p has
// been handed off to its next owner. The claimant then makes the next
// owner the owner. Marking twice is harmless. ErrNoTransfer if no transfer
// of p from self is pending.
func (s State) CompleteTransfer(self NodeID, p int, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	cur := s.current()
	i := slices.IndexFunc(cur.next, func(e nextEntry) bool { return e.Partition == p })
	if i < 0 || cur.owners[p] != self {
		return s, fmt.Errorf("%w: partition %d from %s", ErrNoTransfer, p, self)
	}
	if s.isDone(self, cur.next[i]) {
		return s, nil
	}
	d := s.edit()
	keys := append(s.liveDone(self), transferKey{p, cur.next[i].ID})
	d.done[self] = doneRecord{counter: s.d.done[self].counter + 1, keys: sortKeys(keys)}
	d.tick(self, now)
	return d.finish(), nil
}

// liveDone returns self's completion marks that still name a pending
// transfer from self.
func (s State) liveDone(self NodeID) []transferKey {
	var out []transferKey
	for _, e := range s.current().next {
		if s.current().owners[e.Partition] == self && s.isDone(self, e) {
			out = append(out, transferKey{e.Partition, e.ID})
		}
	}
	return out
}

// Advance is what node self does after every change to its state (a
// merge of gossip, a local change, a periodic tick), riak_core's
// ring_changed and claimant loop in one pure step:
//
//   - it records that self has seen the state (Observe); a removed
//     (invalid) node does nothing else;
//   - if self is marked down (so it is running after all), it rejoins
//     (see Rejoin);
//   - if the claimant is no longer valid or leaving and self is the first
//     valid or leaving member by name, self becomes the claimant;
//   - if self is leaving, the ring is ready and self owns nothing and
//     receives nothing, self becomes exiting;
//   - if self is the (valid or leaving) claimant and the ring is ready, it
//     runs the claimant step: apply completed transfers, reassign removed
//     nodes' partitions, remove exiting members, and when nothing is
//     pending and nobody is joining, claim and schedule transfers;
//   - it drops self's completion marks for transfers no longer pending.
//
// It returns the new state and whether it changed beyond Observe (then
// the node persists and gossips it).
func (s State) Advance(self NodeID, now int64) (State, bool) {
	if s.IsZero() {
		return s, false
	}
	s = s.Observe(self)
	switch s.Status(self) {
	case 0, StatusInvalid:
		// Removed (it stops) or never a member: nothing to do.
		return s, false
	case StatusDown:
		// A running node that learns it was marked down rejoins
		// (riak_core sends it a rejoin).
		r, _ := s.Rejoin(self, now)
		s, _ = r.Advance(self, now)
		return s, true
	}
	ready := s.Ready()
	d := s.edit()

	me := s.Status(self)
	claimant := s.Claimant()
	cands := s.MembersWith(StatusValid, StatusLeaving)
	if !slices.Contains(cands, claimant) && len(cands) > 0 && cands[0] == self {
		claimant = self
	}
	l := s.layout()
	if claimant == self && (me == StatusValid || me == StatusLeaving) && ready {
		l.update()
	}
	if me == StatusLeaving && ready && !s.layout().involved(self) && !l.involved(self) {
		l.status[self] = StatusExiting
	}
	changed := d.writeLayout(s, self, claimant, l, now)
	if live := s.liveDone(self); len(live) != len(s.d.done[self].keys) {
		d.done[self] = doneRecord{counter: s.d.done[self].counter + 1, keys: live}
		changed = true
	}
	if !changed {
		return s, false
	}
	d.tick(self, now)
	return d.finish(), true
}
