package static

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/internal/evq"
)

// NodeID names a node.
type NodeID = membership.NodeID

// eventBuffer is the capacity of each node's event channel.
const eventBuffer = 1024

// maxDeliverRounds bounds Deliver: handlers that rebroadcast every payload
// they merge would otherwise never stop.
const maxDeliverRounds = 1000

// Network is a set of static nodes and the test's controls over them. Its
// methods are safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	nodes   map[NodeID]*Node // the current incarnation of each node
	groups  map[NodeID]int   // partition group; nodes not named are in group 0
	pending []broadcast
	nextInc uint64
	nextIso int
	// forget: a node that sees another dead stops knowing it (see
	// ForgetDead).
	forget bool
}

type broadcast struct {
	from *Node
	b    []byte
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{nodes: make(map[NodeID]*Node), groups: make(map[NodeID]int)}
}

// Node returns the running node named id, creating it if there is none:
// a first start, or a restart of a node that was killed or shut down (a
// new incarnation; the old *Node stays shut down). A new node is alive,
// not ready, and has joined nobody, though nodes that knew an earlier
// incarnation take it back at once if they can reach it.
func (n *Network) Node(id NodeID) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd, ok := n.nodes[id]; ok && !nd.stopped {
		return nd
	}
	n.nextInc++
	nd := &Node{
		net:    n,
		id:     id,
		addr:   "static/" + string(id),
		meta:   membership.Meta{Incarnation: n.nextInc},
		knows:  map[NodeID]bool{id: true},
		view:   make(map[NodeID]membership.Member),
		events: evq.New(eventBuffer),
	}
	n.nodes[id] = nd
	n.recompute()
	return nd
}

// must returns the current incarnation of id, panicking if the network
// never had such a node. Callers hold n.mu.
func (n *Network) must(id NodeID) *Node {
	nd, ok := n.nodes[id]
	if !ok {
		panic(fmt.Sprintf("static: unknown node %q", id))
	}
	return nd
}

// JoinAll makes every running node know every other one, as if each had
// joined the same seed.
func (n *Network) JoinAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.nodes {
		if a.stopped {
			continue
		}
		for id, b := range n.nodes {
			if !b.stopped {
				a.knows[id] = true
			}
		}
	}
	n.recompute()
}

// ForgetDead switches the network to memberlist's behaviour after a
// failure: a node that sees another dead (killed, or across a partition)
// forgets it once it has noted the failure, so that after the partition
// heals, or the node restarts, the two are back in touch only when one of
// them joins the other (memberlist gossips to the dead only for a while,
// and exchanges state only with members it sees alive). Without it (the
// default) nodes keep knowing each other and a healed partition merges by
// itself.
func (n *Network) ForgetDead(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.forget = on
}

// SetUp sets node id's service-ready flag, as if it had called
// SetLocalMeta with Ready = up.
func (n *Network) SetUp(id NodeID, up bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nd := n.must(id)
	nd.meta.Ready = up
	n.recompute()
}

// Kill stops node id's process without a leave: the nodes that know it see
// it fail, and its own Events channel is closed. Killing a node that is
// not running does nothing. Node(id) restarts it.
func (n *Network) Kill(id NodeID) {
	n.mu.Lock()
	nd := n.must(id)
	n.mu.Unlock()
	_ = nd.Shutdown()
}

// Partition splits the nodes into groups that cannot reach each other,
// replacing any earlier partition. Nodes named in no group form one more
// group together. Each node sees the nodes on the other sides as failed.
func (n *Network) Partition(groups ...[]NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = make(map[NodeID]int)
	for i, g := range groups {
		for _, id := range g {
			n.groups[id] = i + 1
		}
	}
	n.recompute()
}

// Isolate cuts node id off from every other node until Heal, on top of
// any partition.
func (n *Network) Isolate(id NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextIso--
	n.groups[id] = n.nextIso // a group of its own
	n.recompute()
}

// Heal removes the partition and every isolation: running nodes see each
// other alive again (a Join event), with their current meta.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = make(map[NodeID]int)
	n.recompute()
}

// Reachable reports whether a and b are both running and on the same side
// of any partition.
func (n *Network) Reachable(a, b NodeID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	na, nb := n.nodes[a], n.nodes[b]
	return na != nil && nb != nil && n.reach(na, nb)
}

// reach reports whether a and b can talk. Callers hold n.mu.
func (n *Network) reach(a, b *Node) bool {
	return !a.stopped && !b.stopped && n.groups[a.id] == n.groups[b.id]
}

// Deliver hands every queued broadcast to the nodes its sender can reach
// and knows alive, then those the handlers queued meanwhile, until none
// is left. It returns how many payloads were merged. It panics if the
// handlers are still broadcasting after many rounds.
func (n *Network) Deliver() int {
	delivered := 0
	for range maxDeliverRounds {
		n.mu.Lock()
		pending := n.pending
		n.pending = nil
		type delivery struct {
			to *Node
			b  []byte
		}
		var ds []delivery
		for _, bc := range pending {
			for _, to := range n.sortedNodes() {
				if to == bc.from || !n.reach(bc.from, to) {
					continue
				}
				if m, ok := bc.from.view[to.id]; !ok || !m.Alive() {
					continue
				}
				ds = append(ds, delivery{to, bc.b})
			}
		}
		n.mu.Unlock()
		if len(pending) == 0 {
			return delivered
		}
		for _, d := range ds {
			if d.to.merge(slices.Clone(d.b)) {
				delivered++
			}
		}
	}
	panic("static: handlers kept broadcasting for 1000 rounds")
}

// Gossip runs one round of state exchange: Deliver, then a push/pull
// between every pair of running nodes that can reach each other and know
// each other alive (in ID order; both states are taken before either is
// merged), then Deliver again. It returns how many pairs exchanged.
func (n *Network) Gossip() int {
	n.Deliver()
	n.mu.Lock()
	var pairs [][2]*Node
	nodes := n.sortedNodes()
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			if !n.reach(a, b) {
				continue
			}
			if m, ok := a.view[b.id]; !ok || !m.Alive() {
				continue
			}
			if m, ok := b.view[a.id]; !ok || !m.Alive() {
				continue
			}
			pairs = append(pairs, [2]*Node{a, b})
		}
	}
	n.mu.Unlock()
	for _, p := range pairs {
		exchange(p[0], p[1])
	}
	n.Deliver()
	return len(pairs)
}

// exchange is one push/pull between a and b.
func exchange(a, b *Node) {
	sa, sb := a.localState(), b.localState()
	b.merge(sa)
	a.merge(sb)
}

// sortedNodes returns the running nodes in ID order. Callers hold n.mu.
func (n *Network) sortedNodes() []*Node {
	var out []*Node
	for _, nd := range n.nodes {
		if !nd.stopped {
			out = append(out, nd)
		}
	}
	slices.SortFunc(out, func(a, b *Node) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return out
}

// recompute brings every running node's view up to date with the
// network's state and emits the resulting events. Callers hold n.mu.
func (n *Network) recompute() {
	nodes := n.sortedNodes()
	// Knowledge spreads between nodes that reach each other and where
	// one knows the other, until nothing changes.
	for changed := true; changed; {
		changed = false
		for _, a := range nodes {
			for _, b := range nodes {
				if a == b || !n.reach(a, b) || !(a.knows[b.id] || b.knows[a.id]) {
					continue
				}
				for id := range b.knows {
					if !a.knows[id] {
						a.knows[id] = true
						changed = true
					}
				}
			}
		}
	}
	for _, a := range nodes {
		ids := make([]NodeID, 0, len(a.knows))
		for id := range a.knows {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			n.update(a, id)
		}
	}
	if !n.forget {
		return
	}
	// The failures are noted in the views; now the dead are forgotten.
	for _, a := range nodes {
		for id := range a.knows {
			if b := n.nodes[id]; id != a.id && (b == nil || !n.reach(a, b)) {
				delete(a.knows, id)
			}
		}
	}
}

// update recomputes a's view of id and emits the event the change makes.
// Callers hold n.mu.
func (n *Network) update(a *Node, id NodeID) {
	old, had := a.view[id]
	var next membership.Member
	if id == a.id {
		next = membership.Member{ID: a.id, GossipAddr: a.addr, Meta: a.meta, State: membership.StateAlive}
		if a.left {
			next.State = membership.StateLeft
		}
	} else {
		b := n.nodes[id]
		switch {
		case b.left:
			next = membership.Member{ID: id, GossipAddr: b.addr, Meta: b.meta, State: membership.StateLeft}
			if had {
				next.Meta = old.Meta
			}
		case n.reach(a, b):
			next = membership.Member{ID: id, GossipAddr: b.addr, Meta: b.meta, State: membership.StateAlive}
		default:
			if !had {
				return // never seen alive: memberlist ignores news of unknown dead nodes
			}
			next = old
			next.State = membership.StateDead
		}
	}
	if !had {
		if next.State != membership.StateAlive {
			return
		}
		a.view[id] = next
		a.events.Push(membership.Event{Type: membership.EventJoin, Member: next})
		return
	}
	if old == next {
		return
	}
	var typ membership.EventType
	switch {
	case old.Alive() && next.State == membership.StateAlive:
		typ = membership.EventUpdate
	case old.Alive() && next.State == membership.StateDead:
		typ = membership.EventFail
	case old.Alive() && next.State == membership.StateLeft:
		typ = membership.EventLeave
	case next.State == membership.StateAlive: // dead or left, back
		typ = membership.EventJoin
	default:
		return // dead stays dead, left stays left
	}
	a.view[id] = next
	a.events.Push(membership.Event{Type: typ, Member: next})
}

// Node is one static node: a membership.Membership whose view the Network
// maintains. Its methods are safe for concurrent use.
type Node struct {
	net  *Network
	id   NodeID
	addr string

	// Guarded by net.mu.
	meta    membership.Meta
	left    bool
	stopped bool
	knows   map[NodeID]bool
	view    map[NodeID]membership.Member

	events *evq.Queue

	// hmu guards handler; handler calls hold it for reading, so that
	// Shutdown (which takes it for writing) waits for them.
	hmu     sync.RWMutex
	handler membership.StateHandler
	hstop   bool
}

var _ membership.Membership = (*Node)(nil)

// Local returns the node as it sees itself.
func (nd *Node) Local() membership.Member {
	nd.net.mu.Lock()
	defer nd.net.mu.Unlock()
	m, ok := nd.view[nd.id]
	if !ok {
		m = membership.Member{ID: nd.id, GossipAddr: nd.addr, Meta: nd.meta}
	}
	if nd.stopped {
		m.State = membership.StateDead
		if nd.left {
			m.State = membership.StateLeft
		}
	}
	return m
}

// Members returns the node's view, sorted by ID.
func (nd *Node) Members() []membership.Member {
	nd.net.mu.Lock()
	defer nd.net.mu.Unlock()
	out := make([]membership.Member, 0, len(nd.view))
	for _, m := range nd.view {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b membership.Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Member returns the node's view of id.
func (nd *Node) Member(id NodeID) (membership.Member, bool) {
	nd.net.mu.Lock()
	defer nd.net.mu.Unlock()
	m, ok := nd.view[id]
	return m, ok
}

// Up reports whether the node sees id alive and ready. A stopped node
// sees nobody up.
func (nd *Node) Up(id NodeID) bool {
	nd.net.mu.Lock()
	defer nd.net.mu.Unlock()
	if nd.stopped {
		return false
	}
	m, ok := nd.view[id]
	return ok && m.Up()
}

// Events returns the node's event channel.
func (nd *Node) Events() <-chan membership.Event { return nd.events.C() }

// EventsCoalesced returns how many events were replaced by newer ones
// because the consumer was behind.
func (nd *Node) EventsCoalesced() uint64 { return nd.events.Coalesced() }

// Join makes the node and each reachable seed (a GossipAddr,
// "static/NAME") know each other, then exchanges state with each seed it
// reached.
func (nd *Node) Join(seeds []string) (int, error) {
	n := nd.net
	n.mu.Lock()
	if nd.stopped {
		n.mu.Unlock()
		return 0, membership.ErrShutdown
	}
	if nd.left {
		n.mu.Unlock()
		return 0, membership.ErrLeft
	}
	var reached []*Node
	for _, addr := range seeds {
		for _, s := range n.nodes {
			if s.addr == addr && s != nd && n.reach(nd, s) {
				nd.knows[s.id] = true
				s.knows[nd.id] = true
				reached = append(reached, s)
			}
		}
	}
	n.recompute()
	n.mu.Unlock()
	if len(reached) == 0 && len(seeds) > 0 {
		return 0, fmt.Errorf("%w: %v", membership.ErrJoin, seeds)
	}
	for _, s := range reached {
		exchange(nd, s)
	}
	return len(reached), nil
}

// Leave marks the node as left in every view at once. timeout is unused.
func (nd *Node) Leave(timeout time.Duration) error {
	n := nd.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd.stopped {
		return membership.ErrShutdown
	}
	nd.left = true
	n.recompute()
	return nil
}

// Shutdown stops the node: nodes that know it see it fail (unless it
// left), its handler is no longer called and its Events channel closes.
func (nd *Node) Shutdown() error {
	n := nd.net
	n.mu.Lock()
	if nd.stopped {
		n.mu.Unlock()
		return nil
	}
	nd.stopped = true
	n.recompute()
	n.mu.Unlock()

	nd.hmu.Lock()
	nd.hstop = true
	nd.handler = nil
	nd.hmu.Unlock()
	nd.events.Close()
	return nil
}

// SetLocalMeta replaces the node's meta (a zero Incarnation keeps the
// current one); every node that reaches it sees the change at once.
func (nd *Node) SetLocalMeta(meta membership.Meta) error {
	if _, err := membership.EncodeMeta(meta); err != nil {
		return err
	}
	n := nd.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd.stopped {
		return membership.ErrShutdown
	}
	if meta.Incarnation == 0 {
		meta.Incarnation = nd.meta.Incarnation
	}
	nd.meta = meta
	n.recompute()
	return nil
}

// SetStateHandler registers h (nil removes it).
func (nd *Node) SetStateHandler(h membership.StateHandler) {
	nd.hmu.Lock()
	defer nd.hmu.Unlock()
	if !nd.hstop {
		nd.handler = h
	}
}

// Broadcast queues b for Deliver, replacing this node's earlier
// undelivered broadcast.
func (nd *Node) Broadcast(b []byte) error {
	n := nd.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd.stopped {
		return membership.ErrShutdown
	}
	if nd.left {
		return membership.ErrLeft
	}
	bc := broadcast{from: nd, b: slices.Clone(b)}
	for i := range n.pending {
		if n.pending[i].from == nd {
			n.pending[i] = bc
			return nil
		}
	}
	n.pending = append(n.pending, bc)
	return nil
}

// localState returns the handler's state, or nil.
func (nd *Node) localState() []byte {
	nd.hmu.RLock()
	defer nd.hmu.RUnlock()
	if nd.handler == nil {
		return nil
	}
	return nd.handler.LocalState()
}

// merge gives b to the handler; it reports whether there was one.
func (nd *Node) merge(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	nd.hmu.RLock()
	defer nd.hmu.RUnlock()
	if nd.handler == nil {
		return false
	}
	nd.handler.MergeRemoteState(b)
	return true
}
