package memberlist

import (
	"encoding/binary"
	"fmt"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hml "github.com/hashicorp/memberlist"

	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/internal/evq"
)

// The meta limit riakgo checks is memberlist's (compile-time assertion in
// both directions).
var (
	_ [hml.MetaMaxSize - membership.MetaMaxSize]struct{}
	_ [membership.MetaMaxSize - hml.MetaMaxSize]struct{}
)

// User message types: the first byte of every message this adapter sends
// through memberlist (broadcasts and reliable sends). WARNING: only append
// to this list; the numbers are part of the protocol.
const (
	msgState   byte = 1 // a StateHandler state, for MergeRemoteState
	msgLeaving byte = 2 // a node announces its Leave: incarnation (8 bytes, big-endian), name
)

// udpBufferSize is memberlist's packet size limit (its default).
const udpBufferSize = 1400

// maxQueuedPayload is the largest message (type byte included) queued for
// piggy-backing on gossip packets: the packet size minus memberlist's
// compound and user-message headers and some room for its own messages.
// Larger messages go over reliable streams.
const maxQueuedPayload = udpBufferSize - 100

// Memberlist is a membership.Membership over hashicorp/memberlist. Its
// methods are safe for concurrent use.
type Memberlist struct {
	cfg     Config
	log     *slog.Logger
	list    *hml.Memberlist // set by New before it returns; not read by delegate methods
	self    NodeID
	events  *evq.Queue
	bq      *hml.TransmitLimitedQueue
	keyring *hml.Keyring // nil: gossip is not encrypted
	maxQ    int          // largest message queued on bq

	listPtr atomic.Pointer[hml.Memberlist] // for delegate methods running during Create

	metaMu sync.Mutex // serializes SetLocalMeta
	meta   atomic.Pointer[encodedMeta]

	mu      sync.Mutex
	table   map[NodeID]membership.Member
	leaving map[NodeID]uint64 // incarnations that announced their Leave

	hmu     sync.RWMutex // handler calls hold it for reading
	handler membership.StateHandler
	hstop   bool

	lifeMu sync.RWMutex // Join, Leave, SetLocalMeta hold it for reading; Shutdown for writing
	left   atomic.Bool
	shut   atomic.Bool
	done   chan struct{}

	bigMu      sync.Mutex // guards bigPayload, bigRunning and wg.Add against Shutdown
	bigPayload []byte
	bigRunning bool
	wg         sync.WaitGroup
}

type encodedMeta struct {
	m membership.Meta
	b []byte
}

var _ membership.Membership = (*Memberlist)(nil)

// New validates cfg, starts memberlist listening on cfg.BindAddr and
// returns the node, alone in its cluster until Join. The first event on
// Events is the local node's Join.
func New(cfg Config) (*Memberlist, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Meta.Incarnation == 0 {
		cfg.Meta.Incarnation = membership.NewIncarnation()
	}
	b, err := membership.EncodeMeta(cfg.Meta)
	if err != nil {
		return nil, err
	}
	m := &Memberlist{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "membership", "node", string(cfg.Name)),
		self:    cfg.Name,
		events:  evq.New(cfg.EventBuffer),
		table:   make(map[NodeID]membership.Member),
		leaving: make(map[NodeID]uint64),
		done:    make(chan struct{}),
		maxQ:    maxQueuedPayload - labelOverhead(cfg.Label) - encryptionOverhead(cfg.SecretKeys),
	}
	m.meta.Store(&encodedMeta{cfg.Meta, b})
	m.bq = &hml.TransmitLimitedQueue{RetransmitMult: cfg.RetransmitMult, NumNodes: m.numNodes}
	if len(cfg.SecretKeys) > 0 {
		if m.keyring, err = hml.NewKeyring(cfg.SecretKeys, cfg.SecretKeys[0]); err != nil {
			m.events.Close()
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	list, err := hml.Create(cfg.memberlistConfig(&delegate{m}, m.keyring))
	if err != nil {
		m.events.Close()
		return nil, fmt.Errorf("riakgo/membership/memberlist: start %s on %s: %w", cfg.Name, cfg.BindAddr, err)
	}
	m.list = list
	m.listPtr.Store(list)
	m.log.Debug("membership started", "gossip", list.LocalNode().Address(), "incarnation", cfg.Meta.Incarnation)
	return m, nil
}

// labelOverhead is what a label adds to each packet.
func labelOverhead(label string) int {
	if label == "" {
		return 0
	}
	return 2 + len(label)
}

// encryptionOverhead is what encryption adds to each packet (memberlist's
// version 0 framing, the larger).
func encryptionOverhead(keys [][]byte) int {
	if len(keys) == 0 {
		return 0
	}
	return 45
}

// SetKeys replaces the gossip keys (a rotation): keys[0] becomes the key
// that encrypts, every key decrypts, keys not listed are dropped. Only a
// node started with keys has a keyring to change (ErrNoKeyring).
func (m *Memberlist) SetKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: at least one key is needed", ErrNoKeyring)
	}
	kr := m.keyring
	if kr == nil {
		return ErrNoKeyring
	}
	for _, k := range keys {
		if err := kr.AddKey(k); err != nil {
			return fmt.Errorf("riakgo/membership/memberlist: %w", err)
		}
	}
	if err := kr.UseKey(keys[0]); err != nil {
		return fmt.Errorf("riakgo/membership/memberlist: %w", err)
	}
	for _, old := range kr.GetKeys() {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return string(k) == string(old) }) {
			if err := kr.RemoveKey(old); err != nil {
				return fmt.Errorf("riakgo/membership/memberlist: %w", err)
			}
		}
	}
	return nil
}

func (m *Memberlist) numNodes() int {
	if l := m.listPtr.Load(); l != nil {
		return l.NumMembers()
	}
	return 1
}

// Local returns the local node. After Leave its state is left; after
// Shutdown (without Leave) it is dead.
func (m *Memberlist) Local() membership.Member {
	m.mu.Lock()
	mem, ok := m.table[m.self]
	m.mu.Unlock()
	if !ok {
		mem = membership.Member{ID: m.self, State: membership.StateAlive}
	}
	mem.Meta = m.meta.Load().m
	if m.shut.Load() && mem.State != membership.StateLeft {
		mem.State = membership.StateDead
	}
	return mem
}

// Members returns every node seen, sorted by ID. memberlist does not
// publish suspicion, so members are alive, dead or left, never suspect.
func (m *Memberlist) Members() []membership.Member {
	m.mu.Lock()
	out := make([]membership.Member, 0, len(m.table))
	for _, mem := range m.table {
		out = append(out, mem)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b membership.Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Member returns the member named id, if it has been seen.
func (m *Memberlist) Member(id NodeID) (membership.Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.table[id]
	return mem, ok
}

// Up reports whether id is alive (or suspect) and ready. After Shutdown
// nothing is up.
func (m *Memberlist) Up(id NodeID) bool {
	if m.shut.Load() {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.table[id]
	return ok && mem.Up()
}

// Events returns the event channel.
func (m *Memberlist) Events() <-chan membership.Event { return m.events.C() }

// EventsCoalesced returns how many events were replaced by newer ones
// because the consumer was behind (a metric for the node wiring).
func (m *Memberlist) EventsCoalesced() uint64 { return m.events.Coalesced() }

// Join contacts the seeds ("IP:port" or "host:port" gossip addresses) and
// exchanges full state with each (the StateHandler's included). It blocks
// for the exchanges, each bounded by Config.StreamTimeout.
func (m *Memberlist) Join(seeds []string) (int, error) {
	m.lifeMu.RLock()
	defer m.lifeMu.RUnlock()
	if m.shut.Load() {
		return 0, membership.ErrShutdown
	}
	if m.left.Load() {
		return 0, membership.ErrLeft
	}
	if len(seeds) == 0 {
		return 0, nil
	}
	n, err := m.list.Join(seeds)
	if err != nil {
		return n, fmt.Errorf("%w %v: %w", membership.ErrJoin, seeds, err)
	}
	return n, nil
}

// Leave tells the other members that this node leaves, then broadcasts
// memberlist's leave and waits up to timeout (Config.StreamTimeout if
// timeout is not positive) for it to go out.
//
// memberlist does not tell its event delegate whether a node left or
// failed (both are NotifyLeave, and the Node it passes never carries the
// state), so a leaving node first sends its peers a leaving note, over a
// reliable stream to each live member and queued on gossip: a peer that
// holds the note when memberlist reports the node gone records it as left
// (EventLeave), otherwise as failed (EventFail); a note that arrives after
// the failure turns it into a leave (a second event).
func (m *Memberlist) Leave(timeout time.Duration) error {
	m.lifeMu.RLock()
	defer m.lifeMu.RUnlock()
	if m.shut.Load() {
		return membership.ErrShutdown
	}
	if timeout <= 0 {
		timeout = m.cfg.StreamTimeout
	}
	end := time.Now().Add(timeout)
	if !m.left.Swap(true) {
		m.announceLeaving(end)
	}
	rem := max(time.Until(end), time.Millisecond)
	if err := m.list.Leave(rem); err != nil {
		return fmt.Errorf("riakgo/membership/memberlist: leave: %w", err)
	}
	return nil
}

// announceLeaving sends the leaving note to every other live member and
// waits for the sends until end. Callers hold lifeMu for reading.
func (m *Memberlist) announceLeaving(end time.Time) {
	inc := m.meta.Load().m.Incarnation
	msg := make([]byte, 9, 9+len(m.self))
	msg[0] = msgLeaving
	binary.BigEndian.PutUint64(msg[1:], inc)
	msg = append(msg, m.self...)
	m.mu.Lock()
	m.leaving[m.self] = inc
	m.mu.Unlock()
	m.bq.QueueBroadcast(leavingBroadcast(msg))

	sent := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range m.list.Members() {
		if n.Name == string(m.self) {
			continue
		}
		wg.Add(1)
		m.wg.Add(1) // Shutdown waits for stragglers
		go func() {
			defer m.wg.Done()
			defer wg.Done()
			if err := m.list.SendReliable(n, msg); err != nil {
				m.log.Debug("leaving note not sent", "to", n.Name, "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(sent) }()
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	select {
	case <-sent:
	case <-timer.C:
	}
}

// leavingNote records a peer's leaving note; if memberlist already
// reported that incarnation failed, the failure becomes a leave.
func (m *Memberlist) leavingNote(b []byte) {
	if len(b) < 9 {
		return
	}
	inc := binary.BigEndian.Uint64(b[1:9])
	id := NodeID(b[9:])
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaving[id] = inc
	if mem, ok := m.table[id]; ok && mem.State == membership.StateDead && mem.Meta.Incarnation == inc {
		mem.State = membership.StateLeft
		m.table[id] = mem
		m.log.Debug("membership event", "event", "leave", "member", mem.String())
		m.events.Push(membership.Event{Type: membership.EventLeave, Member: mem})
	}
}

// Shutdown stops memberlist (its listeners and timers), waits for handler
// calls in progress and for a Join, Leave or SetLocalMeta in progress,
// and closes the Events channel.
func (m *Memberlist) Shutdown() error {
	m.lifeMu.Lock()
	if m.shut.Load() {
		m.lifeMu.Unlock()
		return nil
	}
	m.bigMu.Lock()
	m.shut.Store(true)
	m.bigMu.Unlock()
	m.lifeMu.Unlock()

	close(m.done)
	m.wg.Wait()
	err := m.list.Shutdown()

	m.hmu.Lock()
	m.hstop = true
	m.handler = nil
	m.hmu.Unlock()
	m.events.Close()
	if err != nil {
		return fmt.Errorf("riakgo/membership/memberlist: shutdown: %w", err)
	}
	return nil
}

// SetLocalMeta replaces the node's meta and re-advertises it. It does not
// wait for the peers to receive it.
func (m *Memberlist) SetLocalMeta(meta membership.Meta) error {
	m.lifeMu.RLock()
	defer m.lifeMu.RUnlock()
	if m.shut.Load() {
		return membership.ErrShutdown
	}
	if m.left.Load() {
		return membership.ErrLeft
	}
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	if meta.Incarnation == 0 {
		meta.Incarnation = m.meta.Load().m.Incarnation
	}
	b, err := membership.EncodeMeta(meta)
	if err != nil {
		return err
	}
	m.meta.Store(&encodedMeta{meta, b})
	// UpdateNode applies the meta locally and queues the alive message
	// at once; it then waits for the first gossip send, which is not
	// needed here, so the wait is cut short and its timeout ignored.
	if err := m.list.UpdateNode(time.Nanosecond); err != nil {
		m.log.Debug("meta update queued", "err", err)
	}
	return nil
}

// SetStateHandler registers h (nil removes it).
func (m *Memberlist) SetStateHandler(h membership.StateHandler) {
	m.hmu.Lock()
	defer m.hmu.Unlock()
	if !m.hstop {
		m.handler = h
	}
}

// Broadcast spreads b to the other members: piggy-backed on gossip if it
// fits in a packet, otherwise over reliable streams (see the package
// documentation).
func (m *Memberlist) Broadcast(b []byte) error {
	if m.left.Load() {
		return membership.ErrLeft
	}
	msg := make([]byte, 0, 1+len(b))
	msg = append(msg, msgState)
	msg = append(msg, b...)
	if len(msg) <= m.maxQ {
		if m.shut.Load() {
			return membership.ErrShutdown
		}
		m.bq.QueueBroadcast(stateBroadcast(msg))
		return nil
	}
	m.bigMu.Lock()
	defer m.bigMu.Unlock()
	if m.shut.Load() {
		return membership.ErrShutdown
	}
	m.bigPayload = msg
	if !m.bigRunning {
		m.bigRunning = true
		m.wg.Add(1)
		go m.sendBig()
	}
	return nil
}

// sendBig sends the newest large payload to every other live member over
// reliable streams, until no payload waits.
func (m *Memberlist) sendBig() {
	defer m.wg.Done()
	for {
		m.bigMu.Lock()
		msg := m.bigPayload
		m.bigPayload = nil
		if msg == nil {
			m.bigRunning = false
			m.bigMu.Unlock()
			return
		}
		m.bigMu.Unlock()
		for _, n := range m.list.Members() {
			if n.Name == string(m.self) {
				continue
			}
			select {
			case <-m.done:
				return
			default:
			}
			if err := m.list.SendReliable(n, msg); err != nil {
				m.log.Debug("reliable broadcast failed", "to", n.Name, "bytes", len(msg), "err", err)
			}
		}
	}
}

// stateBroadcast is a queued state broadcast. It is named, so a newer one
// replaces any still in the queue.
type stateBroadcast []byte

var _ hml.NamedBroadcast = stateBroadcast(nil)

// Invalidates reports whether other is an older state broadcast.
func (b stateBroadcast) Invalidates(other hml.Broadcast) bool {
	nb, ok := other.(hml.NamedBroadcast)
	return ok && nb.Name() == b.Name()
}

// Name identifies state broadcasts.
func (b stateBroadcast) Name() string { return "riakgo/state" }

// Message returns the encoded message.
func (b stateBroadcast) Message() []byte { return b }

// Finished is called when the broadcast is dropped from the queue.
func (b stateBroadcast) Finished() {}

// leavingBroadcast is a queued leaving note.
type leavingBroadcast []byte

var _ hml.NamedBroadcast = leavingBroadcast(nil)

// Invalidates reports whether other is a leaving note too.
func (b leavingBroadcast) Invalidates(other hml.Broadcast) bool {
	nb, ok := other.(hml.NamedBroadcast)
	return ok && nb.Name() == b.Name()
}

// Name identifies leaving notes.
func (b leavingBroadcast) Name() string { return "riakgo/leaving" }

// Message returns the encoded note.
func (b leavingBroadcast) Message() []byte { return b }

// Finished is called when the note is dropped from the queue.
func (b leavingBroadcast) Finished() {}

// handleState gives a received state to the handler.
func (m *Memberlist) handleState(b []byte) {
	if len(b) == 0 {
		return
	}
	m.hmu.RLock()
	defer m.hmu.RUnlock()
	if m.handler == nil {
		return
	}
	m.handler.MergeRemoteState(b)
}

// localState returns the handler's state, or nil.
func (m *Memberlist) localState() []byte {
	m.hmu.RLock()
	defer m.hmu.RUnlock()
	if m.handler == nil {
		return nil
	}
	return m.handler.LocalState()
}

// note records a member change reported by memberlist and emits its
// event. A gone member (EventFail) is recorded as left if it announced
// its leave.
func (m *Memberlist) note(typ membership.EventType, n *hml.Node) {
	mem := membership.Member{ID: NodeID(n.Name), GossipAddr: n.Address(), State: membership.StateAlive}
	meta, err := membership.DecodeMeta(n.Meta)
	if err != nil {
		m.log.Warn("undecodable node meta", "member", n.Name, "err", err)
	}
	mem.Meta = meta
	m.mu.Lock()
	defer m.mu.Unlock()
	switch typ {
	case membership.EventJoin:
		delete(m.leaving, mem.ID)
	case membership.EventFail:
		mem.State = membership.StateDead
		if inc, ok := m.leaving[mem.ID]; ok && inc == meta.Incarnation {
			typ, mem.State = membership.EventLeave, membership.StateLeft
		}
	}
	m.table[mem.ID] = mem
	m.log.Debug("membership event", "event", typ.String(), "member", mem.String())
	// Pushed under m.mu so that events keep the order of table changes.
	m.events.Push(membership.Event{Type: typ, Member: mem})
}

// delegate receives memberlist's callbacks. Memberlist may call it from
// several goroutines at once (Delegate), or serially (EventDelegate, with
// memberlist's node lock held: it must not call back into memberlist).
type delegate struct{ m *Memberlist }

var (
	_ hml.Delegate      = (*delegate)(nil)
	_ hml.EventDelegate = (*delegate)(nil)
)

// NodeMeta returns the encoded local meta (never over the limit:
// SetLocalMeta and New check it).
func (d *delegate) NodeMeta(limit int) []byte { return d.m.meta.Load().b }

// NotifyMsg receives a user message (a broadcast or reliable send).
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case msgState:
		d.m.handleState(slices.Clone(b[1:]))
	case msgLeaving:
		d.m.leavingNote(b)
	default:
		d.m.log.Debug("unknown user message type", "type", b[0], "bytes", len(b))
	}
}

// GetBroadcasts returns queued broadcasts that fit in limit.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.m.bq.GetBroadcasts(overhead, limit)
}

// LocalState returns the handler's state for a push/pull or join.
func (d *delegate) LocalState(join bool) []byte { return d.m.localState() }

// MergeRemoteState receives a peer's state from a push/pull or join.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	d.m.handleState(slices.Clone(buf))
}

// NotifyJoin records a member that appeared or came back.
func (d *delegate) NotifyJoin(n *hml.Node) { d.m.note(membership.EventJoin, n) }

// NotifyUpdate records a member's new meta.
func (d *delegate) NotifyUpdate(n *hml.Node) { d.m.note(membership.EventUpdate, n) }

// NotifyLeave records a member that left or was declared dead (memberlist
// does not say which: see Leave).
func (d *delegate) NotifyLeave(n *hml.Node) { d.m.note(membership.EventFail, n) }

// newStdLogger makes the *log.Logger memberlist wants, writing to l.
func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}
