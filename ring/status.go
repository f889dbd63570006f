package ring

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"

	"github.com/riakgo/riakgo/vclock"
)

// Status is a member's status, as riak_core's member_status().
type Status uint8

// Member statuses. A node is joining after "cluster join" until a commit
// makes it valid; valid members own partitions; leaving members hand their
// partitions off; exiting members own nothing and are about to be removed;
// down members were marked down by an operator (they keep their partitions
// but do not block convergence); invalid members have been removed and
// their gossip is ignored.
const (
	StatusJoining Status = iota + 1
	StatusValid
	StatusLeaving
	StatusExiting
	StatusDown
	StatusInvalid
)

var statusNames = [...]string{"", "joining", "valid", "leaving", "exiting", "down", "invalid"}

// String returns the status as riak-admin prints it ("valid").
func (s Status) String() string {
	if int(s) < len(statusNames) && s != 0 {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// ParseStatus is the inverse of String.
func ParseStatus(name string) (Status, bool) {
	for i, n := range statusNames {
		if i > 0 && n == name {
			return Status(i), true
		}
	}
	return 0, false
}

func (s Status) valid() bool { return s >= StatusJoining && s <= StatusInvalid }

// precedence orders concurrent statuses as riak_core's merge_status:
// invalid > down > joining > valid > exiting > leaving.
func (s Status) precedence() int {
	switch s {
	case StatusLeaving:
		return 0
	case StatusExiting:
		return 1
	case StatusValid:
		return 2
	case StatusJoining:
		return 3
	case StatusDown:
		return 4
	case StatusInvalid:
		return 5
	}
	return -1
}

// Action is a staged cluster change.
type Action uint8

// Staged actions. ActionJoin is never staged (joining nodes are part of
// every plan); it appears in Plan.Changes.
const (
	actionNone Action = iota // a cleared (committed or discarded) change
	ActionJoin
	ActionLeave
	ActionRemove       // cluster force-remove
	ActionReplace      // cluster replace: hand everything to Target, then leave
	ActionForceReplace // cluster force-replace: Target takes the partitions, no data
)

var actionNames = [...]string{"", "join", "leave", "force-remove", "replace", "force-replace"}

// String returns the action as riak-admin's plan prints it.
func (a Action) String() string {
	if int(a) < len(actionNames) && a != actionNone {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

func (a Action) valid() bool { return a <= ActionForceReplace }

// Change is one staged cluster change: Node leaves, is removed, or is
// replaced by Target.
type Change struct {
	Node   NodeID
	Action Action
	Target NodeID
}

// String formats the change as riak-admin's plan table does.
func (c Change) String() string {
	if c.Target != "" {
		return fmt.Sprintf("%s %s -> %s", c.Action, c.Node, c.Target)
	}
	return fmt.Sprintf("%s %s", c.Action, c.Node)
}

// MemberMeta is what a member publishes about itself.
type MemberMeta struct {
	// GossipAddr is the memberlist address ("host:port"), the one
	// "cluster join" takes.
	GossipAddr string
	// InternodeAddr is where the node accepts internode requests.
	InternodeAddr string
	// HTTPAddr is the node's HTTP API address.
	HTTPAddr string
	// Incarnation is chosen by the node, e.g. bumped on every restart. A
	// node should raise it whenever it publishes new meta: concurrent
	// versions of a member record take the meta of the highest
	// incarnation (while the status follows riak_core's precedence).
	Incarnation uint64
}

// Member is the resolved view of one member.
type Member struct {
	Node   NodeID
	Status Status
	Meta   MemberMeta
	// ReplacedBy is the node taking over a leaving node's partitions
	// (cluster replace).
	ReplacedBy NodeID
	// Epoch is the epoch of the node's actor in the ring's clocks (see
	// ActorOf). Join gives a node that joins again a new one.
	Epoch uint32
}

// ActorOf is the vclock actor node n uses in the ring's version vectors
// during epoch: the first 8 bytes of SHA-1("riakgo/ring/actor\x00" + n) as
// the ID and epoch as the epoch. The ID is a pure function of the name, so
// every node derives the same actor for a peer. The epoch is in n's member
// record and changes only when n joins: a node that was removed and joins
// again under the same name gets an epoch above every epoch of that name
// in the seed's ring clock, so it never re-issues an event (actor,
// counter) that its old self may have issued with other content. (Two
// rejoins of one name through two seeds on opposite sides of a network
// split could still pick the same epoch; the state would still merge and
// converge, but ring_ready could briefly be true while two nodes hold
// different states.)
func ActorOf(n NodeID, epoch uint32) vclock.Actor {
	h := sha1.Sum(append([]byte("riakgo/ring/actor\x00"), n...))
	id := binary.BigEndian.Uint64(h[:8])
	if id == 0 {
		id = 1 // the zero actor is reserved
	}
	return vclock.Actor{ID: id, Epoch: epoch}
}
