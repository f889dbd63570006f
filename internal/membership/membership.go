package membership

import (
	"fmt"
	"time"

	"github.com/riakgo/riakgo/ring"
)

// NodeID names a node: the same type the ring and the transport use.
type NodeID = ring.NodeID

// Membership is one node's view of the cluster's members and its channel
// for exchanging cluster state with them. All methods are safe for
// concurrent use.
type Membership interface {
	// Local returns the local node as this node sees itself.
	Local() Member

	// Members returns every node this node knows of, alive, suspect,
	// dead or left, sorted by ID, including the local node. The slice is
	// the caller's. Dead and left members stay in the list (with their
	// last meta) until they come back; a node that comes back appears
	// again as alive, with its new Meta.Incarnation if it restarted.
	Members() []Member

	// Member returns the member named id, if this node knows it.
	Member(id NodeID) (Member, bool)

	// Up reports whether id is alive and has its service-ready flag set
	// (Meta.Ready): riak_core's "service up". A suspect member counts as
	// alive until it is declared dead, as in Riak a node counts as up
	// until its nodedown. Up(Local().ID) is the local ready flag, unless
	// the node has left or shut down.
	Up(id NodeID) bool

	// Events returns the channel of membership changes. It is the same
	// channel on every call, buffered, and closed once Shutdown has
	// returned (events buffered before then can still be read). The
	// first event is the local node's own Join.
	//
	// Gossip is never blocked by a slow consumer. While the channel is
	// full, later events wait in a queue that holds at most one event
	// per member: a newer event for a member replaces the waiting one
	// (its Member is the newer state; a Join followed by an Update stays
	// a Join), and implementations count these replacements. A consumer
	// therefore sees the latest state of every member, though not every
	// intermediate one; a consumer that needs the whole picture reads
	// Members.
	Events() <-chan Event

	// Join contacts the seeds (gossip addresses, "host:port") and merges
	// their cluster's membership with this node's. It returns how many
	// seeds were reached, and an error wrapping ErrJoin if none was.
	// Joining no seeds is a no-op. Join blocks for the network exchange
	// with each seed.
	Join(seeds []string) (int, error)

	// Leave tells the other members that this node is leaving on
	// purpose: they see it as Left (EventLeave), not Dead. It blocks
	// until the news has been sent to at least one member or timeout
	// passes (a timeout is reported as an error, but the leave still
	// spreads); a non-positive timeout means the implementation's
	// default. The node keeps gossiping until Shutdown, which should
	// follow. Leave is idempotent.
	Leave(timeout time.Duration) error

	// Shutdown stops the node's gossip without telling the others, who
	// will detect it as failed (EventFail) unless it left first. After
	// Shutdown returns the StateHandler is no longer called and the
	// Events channel is closed. Shutdown is idempotent. It must not be
	// called from a StateHandler.
	Shutdown() error

	// SetLocalMeta replaces the local node's meta and gossips it. A zero
	// Incarnation keeps the current one. It fails with an error wrapping
	// ErrMetaTooLarge if the encoded meta exceeds MetaMaxSize. It does
	// not wait for the peers to see the change.
	SetLocalMeta(meta Meta) error

	// SetStateHandler registers the handler whose state is exchanged
	// with the peers (nil removes it). Register it before Join so that
	// the join's state exchange carries the state. It must not be called
	// from the handler.
	SetStateHandler(h StateHandler)

	// Broadcast spreads b to the other live members promptly, where it
	// is delivered to their StateHandler's MergeRemoteState. Delivery is
	// best-effort: a member may miss it (the periodic state exchange
	// catches up). A broadcast supersedes the ones still waiting to be
	// sent, so b must be a whole state (or at least self-contained),
	// never a delta. Broadcast does not block on the network and does
	// not retain b. It fails with ErrShutdown or ErrLeft.
	Broadcast(b []byte) error
}

// StateHandler is the application state carried by gossip: the ring's
// cluster state. Its methods are called from the membership's goroutines,
// possibly concurrently with each other; they must be quick (they run on
// the failure detector's network loops: do slow work, such as persisting,
// elsewhere) and must not call SetStateHandler or Shutdown. They may call
// Broadcast.
type StateHandler interface {
	// LocalState returns the local state to send to a peer. The slice is
	// not modified afterwards; the handler must not modify it either.
	LocalState() []byte

	// MergeRemoteState merges a peer's state, as its LocalState or
	// Broadcast produced it. b is the handler's to keep; it is never
	// empty. The sender is not identified: the state should say who sent
	// it if the merge needs to know.
	MergeRemoteState(b []byte)
}

// Member is one node as a Membership sees it.
type Member struct {
	// ID is the node's name.
	ID NodeID
	// GossipAddr is the node's membership (gossip) address, the address
	// other nodes give to Join.
	GossipAddr string
	// Meta is what the node gossips about itself.
	Meta Meta
	// State is the node's liveness.
	State State
}

// Incarnation returns the process incarnation the member gossips
// (Meta.Incarnation): a member seen again with a different incarnation has
// restarted.
func (m Member) Incarnation() uint64 { return m.Meta.Incarnation }

// Alive reports whether the member is alive or suspect.
func (m Member) Alive() bool { return m.State == StateAlive || m.State == StateSuspect }

// Up reports whether the member is alive (or suspect) and ready.
func (m Member) Up() bool { return m.Alive() && m.Meta.Ready }

// String renders the member for logs: "name(addr) alive ready inc=...".
func (m Member) String() string {
	ready := "not-ready"
	if m.Meta.Ready {
		ready = "ready"
	}
	return fmt.Sprintf("%s(%s) %s %s inc=%016x", m.ID, m.GossipAddr, m.State, ready, m.Meta.Incarnation)
}

// State is a member's liveness, as the failure detector sees it.
type State uint8

// Member states.
const (
	// StateAlive: the member answers.
	StateAlive State = iota + 1
	// StateSuspect: the member stopped answering and may be declared dead
	// unless it refutes; it still counts as alive. Implementations that
	// cannot observe suspicion report such members as alive (memberlist
	// does not publish it, so the memberlist adapter never reports it).
	StateSuspect
	// StateDead: the member was declared failed (or is unreachable).
	StateDead
	// StateLeft: the member left on purpose (Leave).
	StateLeft
)

// String returns "alive", "suspect", "dead" or "left".
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// EventType says what happened to a member.
type EventType uint8

// Event types.
const (
	// EventJoin: a member appeared or came back after being dead or left
	// (including the local node, first of all).
	EventJoin EventType = iota + 1
	// EventUpdate: an alive member's meta changed (its ready flag, its
	// addresses, or its incarnation after a quick restart).
	EventUpdate
	// EventLeave: a member left on purpose.
	EventLeave
	// EventFail: a member was declared dead.
	EventFail
)

// String returns "join", "update", "leave" or "fail".
func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// Event is a change of one member.
type Event struct {
	// Type is what happened.
	Type EventType
	// Member is the member's state after the change.
	Member Member
}

// String renders the event for logs and golden files: "join a(addr) ...".
func (e Event) String() string { return e.Type.String() + " " + e.Member.String() }

// Resolver returns a function that maps a node to its internode address
// (Meta.ClusterAddr) as m currently knows it, in the shape the TCP
// transport's Config.Resolve wants. Any known member with a cluster address
// resolves, whatever its state (its last known address): whether to talk
// to a node is the caller's decision, made with Up.
func Resolver(m Membership) func(NodeID) (string, bool) {
	return func(id NodeID) (string, bool) {
		mem, ok := m.Member(id)
		if !ok || mem.Meta.ClusterAddr == "" {
			return "", false
		}
		return mem.Meta.ClusterAddr, true
	}
}
