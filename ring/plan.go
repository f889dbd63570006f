package ring

import (
	"reflect"
	"slices"
	"sort"
)

// maxTransitions bounds a plan's simulation. Claim reaches its final ring
// in one transition; a second appears only when the first leaves work
// (for instance a down node blocks a transfer).
const maxTransitions = 8

// Move counts partitions going from one node to another.
type Move struct {
	From, To NodeID
	Count    int
}

// Plan is what "cluster plan" shows: the changes that a commit would
// apply and the ring transitions they lead to.
type Plan struct {
	// Changes are the staged changes plus one join per joining node, by
	// node; changes that no longer apply (a leave of a node already
	// leaving) are left out.
	Changes []Change
	// Transitions are the successive rings: the first is what Commit
	// installs, each further one what the claimant schedules once the
	// previous transfers complete.
	Transitions []Transition
}

// Transition is one planned ring change.
type Transition struct {
	// Members are the members after the transition with their current
	// and pending ownership (riak-admin's Status / Ring / Pending / Node).
	Members []MemberStatus
	// Reassigned counts partitions that change owner without a handoff:
	// those of force-removed and force-replaced nodes ("Partitions
	// reassigned from cluster changes").
	Reassigned []Move
	// Transfers counts the scheduled handoffs per (from, to) pair
	// ("Transfers resulting from cluster changes").
	Transfers []Move
	// Owners are the owners when the transition is installed, Future the
	// owners once its transfers complete.
	Owners, Future []NodeID
	// MeetsTargetN is false when Future puts some target_n consecutive
	// partitions on fewer distinct nodes than it could ("WARNING: Not all
	// replicas will be on distinct nodes").
	MeetsTargetN bool
}

// TotalTransfers returns the number of handoffs in the transition.
func (t Transition) TotalTransfers() int { return sumMoves(t.Transfers) }

// TotalReassigned returns the number of partitions reassigned without
// handoff.
func (t Transition) TotalReassigned() int { return sumMoves(t.Reassigned) }

func sumMoves(ms []Move) int {
	n := 0
	for _, m := range ms {
		n += m.Count
	}
	return n
}

// Equal reports whether two plans are the same (commit's plan_changed
// check).
func (p Plan) Equal(o Plan) bool { return reflect.DeepEqual(p, o) }

// layout is the mutable ownership and membership view the claimant logic
// works on, shared by Plan (a simulation) and Commit/Advance (which write
// the result).
type layout struct {
	owners  []NodeID
	next    []nextEntry
	status  map[NodeID]Status
	repl    map[NodeID]NodeID
	done    func(from NodeID, e nextEntry) bool
	targetN int
}

func (s State) layout() *layout {
	cur := s.current()
	l := &layout{
		owners:  slices.Clone(cur.owners),
		next:    slices.Clone(cur.next),
		status:  make(map[NodeID]Status, len(s.d.res)),
		repl:    map[NodeID]NodeID{},
		done:    s.isDone,
		targetN: s.d.targetN,
	}
	for n, m := range s.d.res {
		l.status[n] = m.Status
		if m.ReplacedBy != "" {
			l.repl[n] = m.ReplacedBy
		}
	}
	return l
}

// pendingChanges returns the changes a commit would apply: one join per
// joining node and every staged change that still applies, by node.
func (s State) pendingChanges() []Change {
	var out []Change
	for n, m := range s.d.res {
		if m.Status == StatusJoining {
			out = append(out, Change{Node: n, Action: ActionJoin})
		}
	}
	for _, c := range s.Staged() {
		if s.applicable(c) == nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Node != out[b].Node {
			return out[a].Node < out[b].Node
		}
		return out[a].Action < out[b].Action
	})
	return out
}

// apply makes the changes: joins become valid, leaves leaving (with
// their replacement), removes invalid, and a force-replaced node's
// partitions go straight to the replacement. It returns those direct
// reassignments.
func (l *layout) apply(changes []Change) map[[2]NodeID]int {
	moved := map[[2]NodeID]int{}
	for _, c := range changes {
		if c.Action == ActionJoin && l.status[c.Node] == StatusJoining {
			l.status[c.Node] = StatusValid
		}
	}
	for _, c := range changes {
		switch c.Action {
		case ActionLeave:
			if l.status[c.Node] == StatusValid {
				l.status[c.Node] = StatusLeaving
			}
		case ActionReplace:
			if l.status[c.Node] == StatusValid {
				l.status[c.Node] = StatusLeaving
				l.repl[c.Node] = c.Target
				l.status[c.Target] = StatusValid
			}
		case ActionRemove:
			l.status[c.Node] = StatusInvalid
		case ActionForceReplace:
			l.status[c.Node] = StatusInvalid
			l.status[c.Target] = StatusValid
			for p, o := range l.owners {
				if o == c.Node {
					l.owners[p] = c.Target
					moved[[2]NodeID{c.Node, c.Target}]++
				}
			}
		}
	}
	// Transfers from or to a removed node are void.
	l.next = slices.DeleteFunc(l.next, func(e nextEntry) bool {
		return l.status[e.To] == StatusInvalid || l.status[l.owners[e.Partition]] == StatusInvalid
	})
	return moved
}

// update is one step of the claimant (riak_core_claimant's update_ring
// and maybe_remove_exiting): drop transfers whose source is not valid or
// leaving or whose target is not valid; make the target the owner of
// every completed transfer; give the partitions of removed nodes to new
// owners at once (no handoff); remove exiting members that own nothing;
// and, when nothing is pending and no node is waiting to join, run claim
// and schedule a transfer for every partition whose owner changes
// (leaving nodes' partitions among them). Down members keep their
// partitions and receive none. It returns the direct reassignments and
// whether anything changed.
//
// Unlike riak_core, completed transfers are applied even while nodes are
// joining; only new claims wait for the commit.
func (l *layout) update() (map[[2]NodeID]int, bool) {
	moved := map[[2]NodeID]int{}
	changed := false
	keep := l.next[:0]
	for _, e := range l.next {
		from := l.owners[e.Partition]
		switch {
		case (l.status[from] != StatusValid && l.status[from] != StatusLeaving) || l.status[e.To] != StatusValid:
			changed = true
		case l.done(from, e):
			l.owners[e.Partition] = e.To
			changed = true
		default:
			keep = append(keep, e)
		}
	}
	l.next = keep

	orphan := func(n NodeID) bool {
		switch l.status[n] {
		case StatusValid, StatusLeaving, StatusExiting, StatusDown:
			return false
		}
		return true
	}
	if slices.ContainsFunc(l.owners, orphan) {
		if target := l.claimTarget(); target != nil {
			for p, o := range l.owners {
				if orphan(o) && !orphan(target[p]) {
					l.owners[p] = target[p]
					moved[[2]NodeID{o, target[p]}]++
					changed = true
				}
			}
		}
	}

	for n, st := range l.status {
		if st == StatusExiting && !l.involved(n) {
			l.status[n] = StatusInvalid
			changed = true
		}
	}

	joining := false
	for _, st := range l.status {
		if st == StatusJoining {
			joining = true
		}
	}
	if len(l.next) == 0 && !joining {
		if target := l.claimTarget(); target != nil {
			for p, o := range l.owners {
				if target[p] != o {
					l.next = append(l.next, nextEntry{Partition: p, To: target[p]})
					changed = true
				}
			}
		}
	}
	return moved, changed
}

// claimTarget runs claim over the valid and down members, down ones
// frozen, with each leaving node's partitions relabelled to its
// replacement (if any) so that a replace moves exactly those.
func (l *layout) claimTarget() []NodeID {
	var members []NodeID
	frozen := map[NodeID]bool{}
	for n, st := range l.status {
		switch st {
		case StatusValid:
			members = append(members, n)
		case StatusDown:
			members = append(members, n)
			frozen[n] = true
		}
	}
	if len(members) == len(frozen) {
		return nil
	}
	in := slices.Clone(l.owners)
	for p, o := range in {
		if r, ok := l.repl[o]; ok && l.status[o] == StatusLeaving && l.status[r] == StatusValid {
			in[p] = r
		}
	}
	return claim(in, members, frozen, l.targetN)
}

// involved reports whether n owns a partition or takes part in a pending
// transfer.
func (l *layout) involved(n NodeID) bool {
	if slices.Contains(l.owners, n) {
		return true
	}
	for _, e := range l.next {
		if e.To == n {
			return true
		}
	}
	return false
}

// future returns the owners once every pending transfer completes.
func (l *layout) future() []NodeID {
	out := slices.Clone(l.owners)
	for _, e := range l.next {
		out[e.Partition] = e.To
	}
	return out
}

// transition describes l as a plan transition.
func (l *layout) transition(reassigned map[[2]NodeID]int, claimant NodeID) Transition {
	fut := l.future()
	t := Transition{
		Members:    memberRows(l.owners, fut, l.status, claimant),
		Reassigned: moveList(reassigned),
		Owners:     slices.Clone(l.owners),
		Future:     fut,
	}
	xfer := map[[2]NodeID]int{}
	for _, e := range l.next {
		xfer[[2]NodeID{l.owners[e.Partition], e.To}]++
	}
	t.Transfers = moveList(xfer)
	t.MeetsTargetN = MeetsTargetN(fut, l.targetN)
	return t
}

func moveList(m map[[2]NodeID]int) []Move {
	out := []Move{}
	for k, n := range m {
		out = append(out, Move{From: k[0], To: k[1], Count: n})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].From != out[b].From {
			return out[a].From < out[b].From
		}
		return out[a].To < out[b].To
	})
	return out
}

// completeAll simulates every pending transfer completing and every
// leaving node that then owns nothing exiting.
func (l *layout) completeAll() {
	l.owners = l.future()
	l.next = nil
	for n, st := range l.status {
		if st == StatusLeaving && !l.involved(n) {
			l.status[n] = StatusExiting
		}
	}
}

// Plan computes what committing the staged changes would do, as "cluster
// plan" shows it. It needs a ready ring (ErrNotReady) and something to do
// (ErrNothingPlanned). Plan is a pure function of the state, so every
// node computes the same plan for the same state.
func (s State) Plan() (Plan, error) {
	if s.IsZero() {
		return Plan{}, ErrZeroState
	}
	if !s.Ready() {
		return Plan{}, ErrNotReady
	}
	changes := s.pendingChanges()
	if len(changes) == 0 {
		return Plan{}, ErrNothingPlanned
	}
	l := s.layout()
	p := Plan{Changes: changes}
	reassigned := l.apply(changes)
	claimant := s.Claimant()
	for i := 0; i < maxTransitions; i++ {
		more, _ := l.update()
		for k, n := range more {
			reassigned[k] += n
		}
		if i > 0 && len(l.next) == 0 && len(reassigned) == 0 {
			break
		}
		p.Transitions = append(p.Transitions, l.transition(reassigned, claimant))
		reassigned = map[[2]NodeID]int{}
		if len(l.next) == 0 {
			break
		}
		l.completeAll()
	}
	return p, nil
}

// Commit applies the staged changes, as the claimant by does on "cluster
// commit": joining nodes become valid, leaving ones leaving, removed ones
// invalid (their partitions reassigned at once), and claim schedules the
// transfers of the first transition. The staged changes are cleared. If
// expect is not nil it must equal the plan computed now (ErrPlanChanged),
// so that what is committed is what the operator saw. Errors:
// ErrNotClaimant, ErrNotReady, ErrNothingPlanned.
func (s State) Commit(by NodeID, expect *Plan, now int64) (State, error) {
	if s.IsZero() {
		return s, ErrZeroState
	}
	if s.Claimant() != by {
		return s, ErrNotClaimant
	}
	if !s.Ready() {
		return s, ErrNotReady
	}
	changes := s.pendingChanges()
	if len(changes) == 0 {
		return s, ErrNothingPlanned
	}
	if expect != nil {
		p, err := s.Plan()
		if err != nil {
			return s, err
		}
		if !p.Equal(*expect) {
			return s, ErrPlanChanged
		}
	}
	l := s.layout()
	l.apply(changes)
	l.update()
	d := s.edit()
	d.writeLayout(s, by, by, l, now)
	for _, c := range s.Staged() {
		d.setStaged(by, c.Node, actionNone, "", now)
	}
	d.tick(by, now)
	return d.finish(), nil
}

// writeLayout writes, as by, the members whose status or replacement l
// changed and the ownership (with claimant) if it differs from s's.
func (d *data) writeLayout(s State, by, claimant NodeID, l *layout, now int64) bool {
	changed := false
	for _, n := range sortedKeys(l.status) {
		m, st := s.d.res[n], l.status[n]
		repl := l.repl[n]
		if st != StatusLeaving {
			repl = ""
		}
		if m.Status != st || m.ReplacedBy != repl {
			d.setMember(by, n, st, m.Meta, repl, m.Epoch, now)
			changed = true
		}
	}
	cur := s.current()
	if claimant != cur.claimant || !slices.Equal(l.owners, cur.owners) || !slices.Equal(l.next, cur.next) {
		d.setOwnership(by, claimant, l.owners, l.next, now)
		changed = true
	}
	return changed
}

// memberRows is the member-status table for owners and future owners.
func memberRows(owners, future []NodeID, status map[NodeID]Status, claimant NodeID) []MemberStatus {
	cur, fut := map[NodeID]int{}, map[NodeID]int{}
	for _, o := range owners {
		cur[o]++
	}
	for _, o := range future {
		fut[o]++
	}
	q := float64(len(owners))
	var rows []MemberStatus
	for _, n := range sortedKeys(status) {
		if status[n] == StatusInvalid {
			continue
		}
		rows = append(rows, MemberStatus{
			Node:       n,
			Status:     status[n],
			RingPct:    100 * float64(cur[n]) / q,
			PendingPct: 100 * float64(fut[n]) / q,
			Claimant:   n == claimant,
		})
	}
	return rows
}
