package memnet

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// NodeID is the transport's node name.
type NodeID = transport.NodeID

// Any is a wildcard node for SetDrop and SetDelay: ("a", Any) is every link
// out of a, (Any, Any) every link.
const Any NodeID = ""

// Verdict is a Hook's decision about a message.
type Verdict int

const (
	// Deliver lets the message through (after the link's delay).
	Deliver Verdict = iota
	// Drop loses the message silently.
	Drop
	// Hold keeps the message until Release or Discard.
	Hold
)

// String returns "deliver", "drop" or "hold".
func (v Verdict) String() string {
	switch v {
	case Deliver:
		return "deliver"
	case Drop:
		return "drop"
	case Hold:
		return "hold"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Options configure a Network. Zero fields take the documented defaults.
type Options struct {
	// Seed seeds the RNG behind drop probabilities. Log it in tests so a
	// failure can be replayed.
	Seed uint64
	// Clock schedules delays and call deadlines (default: the wall clock).
	Clock clock.Clock
	// Logger receives drops and handler failures at debug level (default:
	// discard).
	Logger *slog.Logger
	// CallTimeout is the deadline of a call whose context has none
	// (default transport.DefaultCallTimeout).
	CallTimeout time.Duration
}

// Stats is a snapshot of the network's counters.
type Stats struct {
	// Sent counts messages offered to the network: requests, one-way
	// messages and responses.
	Sent uint64
	// Delivered counts messages handed to their destination.
	Delivered uint64
	// Dropped counts messages lost to partitions, isolation, drop
	// probabilities, the hook, Discard, or a destination that closed while
	// they were delayed or held. Refused messages (ErrUnreachable) are not
	// counted.
	Dropped uint64
	// Held is the number of messages held now.
	Held int
	// Delayed is the number of messages waiting on the clock now.
	Delayed int
	// Pending is the number of calls waiting for a response now.
	Pending int
	// Busy is the number of handlers running plus messages being routed
	// now. When it is 0 nothing moves until the clock advances, a held
	// message is released, a queued one is delivered, or someone sends.
	Busy int
	// Queued is the number of messages waiting for DeliverNext (stepped
	// mode only).
	Queued int
}

type link struct{ from, to NodeID }

// Network is an in-memory network. Its methods are safe for concurrent use.
type Network struct {
	clk         clock.Clock
	log         *slog.Logger
	callTimeout time.Duration
	reqSeq      atomic.Uint64

	mu       sync.Mutex
	rng      *rand.Rand
	eps      map[NodeID]*Endpoint
	groups   map[NodeID]int // partition group of each named node; nil: no partition
	isolated map[NodeID]bool
	drop     map[link]float64
	delay    map[link]time.Duration
	hook     func(transport.Envelope) Verdict
	held     []transport.Envelope
	stepped  bool                 // SetStepped
	queue    []transport.Envelope // stepped: due for delivery, unordered
	seq      uint64
	stats    Stats
	changed  chan struct{} // closed and replaced on every change of stats
}

// New returns an empty network.
func New(opts Options) *Network {
	n := &Network{
		clk:         clock.OrReal(opts.Clock),
		log:         opts.Logger,
		callTimeout: opts.CallTimeout,
		rng:         rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		eps:         make(map[NodeID]*Endpoint),
		isolated:    make(map[NodeID]bool),
		drop:        make(map[link]float64),
		delay:       make(map[link]time.Duration),
		changed:     make(chan struct{}),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.callTimeout <= 0 {
		n.callTimeout = transport.DefaultCallTimeout
	}
	return n
}

// Endpoint returns the running endpoint named id, creating one if there is
// none or the previous one was closed (a restart: register handlers again).
func (n *Network) Endpoint(id NodeID) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.eps[id]; e != nil {
		return e
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{n: n, id: id, ctx: ctx, cancel: cancel,
		pending: make(map[uint64]*pendingCall), serving: make(map[uint64]NodeID)}
	n.eps[id] = e
	return e
}

// Partition splits the nodes into groups that cannot reach each other,
// replacing any earlier partition. Nodes named in no group form one more
// group together. Isolation (Isolate) applies on top.
func (n *Network) Partition(groups ...[]NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = make(map[NodeID]int)
	for i, g := range groups {
		for _, id := range g {
			n.groups[id] = i + 1
		}
	}
}

// Isolate cuts node id off from every other node until Heal.
func (n *Network) Isolate(id NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[id] = true
}

// Heal removes the partition and every isolation. Drop probabilities,
// delays, the hook and held messages stay.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = nil
	n.isolated = make(map[NodeID]bool)
}

// SetDrop makes the link from → to lose each message with probability p
// (clamped to [0, 1]; 0 removes the setting). Either end may be Any; the
// most specific setting wins.
func (n *Network) SetDrop(from, to NodeID, p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p = max(0, min(1, p))
	if p == 0 {
		delete(n.drop, link{from, to})
		return
	}
	n.drop[link{from, to}] = p
}

// SetDelay delays every message on the link from → to by d on the clock
// (0 removes the setting). Either end may be Any; the most specific
// setting wins.
func (n *Network) SetDelay(from, to NodeID, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if d <= 0 {
		delete(n.delay, link{from, to})
		return
	}
	n.delay[link{from, to}] = d
}

// Hook installs h to decide the fate of every message that survives
// partitions and drops (nil removes it). h runs in the sender's goroutine
// (or a clock callback's), without the network's lock: it may call the
// network's methods. It must not modify the envelope's body.
func (n *Network) Hook(h func(transport.Envelope) Verdict) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hook = h
}

// Held returns the held messages, oldest first. The envelopes are copies.
func (n *Network) Held() []transport.Envelope {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]transport.Envelope, len(n.held))
	for i, e := range n.held {
		e.Body = append([]byte(nil), e.Body...)
		out[i] = e
	}
	return out
}

// Release delivers the held messages with the given envelope ids, in the
// order given (all held messages, oldest first, if no id is given), at
// once: partitions, drops, the hook and delays do not apply. A message
// whose destination has closed is dropped. It returns how many messages it
// released; unknown ids are ignored.
func (n *Network) Release(ids ...uint64) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	envs := n.takeHeld(ids)
	for _, env := range envs {
		n.deliverLocked(env)
	}
	n.notifyLocked()
	return len(envs)
}

// Discard drops the held messages with the given ids (all if none given)
// and returns how many it dropped.
func (n *Network) Discard(ids ...uint64) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	envs := n.takeHeld(ids)
	n.stats.Dropped += uint64(len(envs))
	n.notifyLocked()
	return len(envs)
}

func (n *Network) takeHeld(ids []uint64) []transport.Envelope {
	var out []transport.Envelope
	if len(ids) == 0 {
		out, n.held = n.held, nil
	} else {
		for _, id := range ids {
			for i, env := range n.held {
				if env.ID == id {
					out = append(out, env)
					n.held = append(n.held[:i:i], n.held[i+1:]...)
					break
				}
			}
		}
	}
	n.stats.Held = len(n.held)
	return out
}

// Stats returns a snapshot of the counters.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Wait blocks until cond, evaluated on a fresh snapshot after every change,
// holds, or ctx ends. cond runs without the network's lock.
func (n *Network) Wait(ctx context.Context, cond func(Stats) bool) error {
	for {
		n.mu.Lock()
		s, ch := n.stats, n.changed
		n.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitIdle blocks until no handler is running and no message is being
// routed (Stats.Busy == 0), or ctx ends. Delayed and held messages and
// calls waiting for their deadline do not count: they move only when the
// clock advances or the test releases them.
func (n *Network) WaitIdle(ctx context.Context) error {
	return n.Wait(ctx, func(s Stats) bool { return s.Busy == 0 })
}

func (n *Network) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

func lookup[V any](m map[link]V, from, to NodeID) (V, bool) {
	for _, l := range [...]link{{from, to}, {from, Any}, {Any, to}, {Any, Any}} {
		if v, ok := m[l]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

func (n *Network) cutLocked(from, to NodeID) bool {
	if n.isolated[from] || n.isolated[to] {
		return true
	}
	return n.groups != nil && n.groups[from] != n.groups[to]
}

// send routes env (its Body already decoded from a fresh frame). It
// returns transport.ErrUnreachable if the destination refuses it.
func (n *Network) send(env transport.Envelope) error {
	n.mu.Lock()
	n.seq++
	env.ID = n.seq
	n.stats.Sent++
	if env.From != env.To {
		if n.cutLocked(env.From, env.To) {
			n.droppedLocked(env, "partition")
			n.mu.Unlock()
			return nil
		}
		if p, ok := lookup(n.drop, env.From, env.To); ok && (p >= 1 || n.rng.Float64() < p) {
			n.droppedLocked(env, "drop probability")
			n.mu.Unlock()
			return nil
		}
	}
	if e := n.eps[env.To]; e == nil || e.closed {
		if env.IsResponse() { // the caller crashed; nobody is waiting
			n.droppedLocked(env, "caller gone")
			n.mu.Unlock()
			return nil
		}
		n.notifyLocked()
		n.mu.Unlock()
		return fmt.Errorf("%w: %s is not running", transport.ErrUnreachable, env.To)
	}
	hook := n.hook
	var delay time.Duration
	if env.From != env.To {
		delay, _ = lookup(n.delay, env.From, env.To)
	}
	n.stats.Busy++
	n.mu.Unlock()

	v := Deliver
	if hook != nil {
		v = hook(env)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Busy--
	switch {
	case v == Drop:
		n.droppedLocked(env, "hook")
	case v == Hold:
		n.held = append(n.held, env)
		n.stats.Held = len(n.held)
	case delay > 0:
		n.stats.Delayed++
		n.clk.AfterFunc(delay, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.stats.Delayed--
			n.deliverLocked(env)
			n.notifyLocked()
		})
	default:
		n.deliverLocked(env)
	}
	n.notifyLocked()
	return nil
}

func (n *Network) droppedLocked(env transport.Envelope, why string) {
	n.stats.Dropped++
	n.notifyLocked()
	n.log.Debug("memnet: dropped", "msg", env.String(), "why", why)
}

// deliverLocked hands env to its destination, or queues it for
// DeliverNext in stepped mode.
func (n *Network) deliverLocked(env transport.Envelope) {
	if n.stepped {
		n.queue = append(n.queue, env)
		n.stats.Queued = len(n.queue)
		return
	}
	n.deliverNowLocked(env)
}

// deliverNowLocked hands env to its destination: a response completes the
// pending call; a request or one-way message starts its handler.
func (n *Network) deliverNowLocked(env transport.Envelope) {
	dst := n.eps[env.To]
	if dst == nil || dst.closed {
		n.droppedLocked(env, "destination closed")
		return
	}
	n.stats.Delivered++
	if env.IsResponse() {
		dst.finishLocked(env.ReqID, result{frame: wire.Frame{
			Header: wire.Header{Type: env.Type, Flags: env.Flags, ReqID: env.ReqID}, Body: env.Body}})
		return
	}
	isCall := env.Flags&wire.FlagOneWay == 0
	if isCall {
		dst.serving[env.ReqID] = env.From
	}
	n.stats.Busy++
	go dst.handle(env, isCall)
}
