package ring

import "sort"

// MemberStatus is one row of riak-admin's member-status: Status, Ring (%),
// Pending (%), Node, plus whether the node is the claimant ("(C)" in
// cluster status). Formatting belongs to the CLI.
type MemberStatus struct {
	Node   NodeID
	Status Status
	// RingPct is the share of partitions the node owns now, 0..100.
	RingPct float64
	// PendingPct is its share once pending transfers complete (riak-admin
	// prints "--" when nothing is pending cluster-wide).
	PendingPct float64
	Claimant   bool
}

// MemberStatus returns the member-status rows (every member but invalid
// ones, by node) and whether any transfer is pending.
func (s State) MemberStatus() (rows []MemberStatus, pending bool) {
	if s.IsZero() {
		return nil, false
	}
	status := make(map[NodeID]Status, len(s.d.res))
	for n, m := range s.d.res {
		status[n] = m.Status
	}
	return memberRows(s.current().owners, s.FutureOwners(), status, s.Claimant()), len(s.current().next) > 0
}

// StatusCounts counts members by status (member-status's last line,
// "Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0").
func (s State) StatusCounts() map[Status]int {
	out := map[Status]int{}
	if s.IsZero() {
		return out
	}
	for _, m := range s.d.res {
		out[m.Status]++
	}
	return out
}

// RingStatus is the data of riak-admin's ring-status. Which nodes are
// unreachable is not ring state; the CLI adds it from the node watcher.
type RingStatus struct {
	Claimant       NodeID
	ClaimantStatus Status
	// Ready is riak_core's ring_ready.
	Ready bool
	// Handoffs groups the pending transfers by (owner, next owner), in
	// that order; within a group by partition.
	Handoffs []Handoff
	// Down lists the members marked down.
	Down []NodeID
}

// Handoff is one (owner, next owner) group of pending transfers.
type Handoff struct {
	Owner, NextOwner NodeID
	Transfers        []Transfer
}

// RingStatus returns the ring-status data.
func (s State) RingStatus() RingStatus {
	if s.IsZero() {
		return RingStatus{}
	}
	rs := RingStatus{
		Claimant:       s.Claimant(),
		ClaimantStatus: s.Status(s.Claimant()),
		Ready:          s.Ready(),
		Down:           s.MembersWith(StatusDown),
	}
	groups := map[[2]NodeID]int{}
	for _, t := range s.Transfers() {
		k := [2]NodeID{t.From, t.To}
		i, ok := groups[k]
		if !ok {
			i = len(rs.Handoffs)
			groups[k] = i
			rs.Handoffs = append(rs.Handoffs, Handoff{Owner: t.From, NextOwner: t.To})
		}
		rs.Handoffs[i].Transfers = append(rs.Handoffs[i].Transfers, t)
	}
	sort.SliceStable(rs.Handoffs, func(a, b int) bool {
		x, y := rs.Handoffs[a], rs.Handoffs[b]
		if x.Owner != y.Owner {
			return x.Owner < y.Owner
		}
		return x.NextOwner < y.NextOwner
	})
	return rs
}
