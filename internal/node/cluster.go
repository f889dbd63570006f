package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/vclock"
)

// The cluster half of a node: the ring's cluster state (ring.State), kept
// in the storage metadata under metaRingState, gossiped through the
// membership's StateHandler and Broadcast together with a digest of the
// cluster metadata, merged with ring.Reconcile and advanced with
// ring.Advance, and installed in kv with SetRing whenever it changes.

var (
	metaRingState = []byte("ring_state")
	// metaRepairs lists the partitions under repair (uvarints), so that a
	// repair outlives a restart.
	metaRepairs = []byte("repairs")
)

// Gossip payload versions. Version 1 is uvarint(len(sender)) sender
// state, because memberlist does not say who sent a state and
// ring.Reconcile needs to know. Version 2 adds, after the sender,
// uvarint(len(state)) state and the sender's metadata digest.
const (
	gossipV1 = 1
	gossipV2 = 2
)

// tickInterval is the period of the claimant/transfer loop.
const tickInterval = time.Second

// Rejoining: a ring member that membership sees dead (or does not know:
// this node restarted while it was down) is contacted again with
// membership's Join, first at once, then after RejoinMinBackoff, doubling
// up to RejoinMaxBackoff, for as long as it is a ring member. memberlist
// stops gossiping to the members it declared dead, and exchanges state
// only with live ones, so without this the two sides of a healed
// partition would stay apart for ever. docs/cluster.md states the bound.
const (
	RejoinMinBackoff = time.Second
	RejoinMaxBackoff = 8 * time.Second
)

// planWait bounds how long "cluster plan" waits for the claimant to see
// the changes the asking node has seen and for the state to converge.
const planWait = 15 * time.Second

// Errors of the cluster admin operations.
var (
	// ErrUnreachable: the seed of a join could not be contacted.
	ErrUnreachable = errors.New("riakgo/node: node is not reachable")
	// ErrNoSeedRing: the seed answered but its ring state did not arrive.
	ErrNoSeedRing = errors.New("riakgo/node: unable to get the ring from the seed")
	// ErrForward: forwarding to the claimant failed.
	ErrForward = errors.New("riakgo/node: cannot reach the claimant")
)

// rejoinState is the backoff of the attempts to reach one member.
type rejoinState struct {
	next    time.Time
	backoff time.Duration
	running atomic.Bool // an attempt is running in the background
}

type cluster struct {
	self ring.NodeID
	log  *slog.Logger
	clk  clock.Clock
	ml   membership.Membership
	md   *metadata.Store
	svc  *kv.Service // set before the handler is registered
	drv  *handoff.Driver
	mgr  *handoff.Manager
	aae  *handoff.Exchanger
	eng  storage.Engine
	// fresh: the state was made at this start (no persisted one).
	fresh bool
	// noRepair: a recovered node does not repair its partitions.
	noRepair bool

	tickMu sync.Mutex // one tick at a time

	// Rejoin attempts (tick's goroutine only, under tickMu).
	rejoin      map[ring.NodeID]*rejoinState
	rejoinAsync bool // a real node: attempts run in the background

	mu        sync.Mutex
	state     ring.State
	payload   []byte                        // the encoded, wrapped state (LocalState)
	persisted []byte                        // the state bytes last written to storage
	repairs   []byte                        // the repair list last written to storage
	foreign   map[ring.NodeID]ring.State    // states of other clusters received (join seeds)
	metaPeers map[ring.NodeID]bool          // peers whose metadata digest differed from ours
	knownBy   map[ring.NodeID]bool          // peers whose last state listed this node as a member
	clockOf   map[ring.NodeID]vclock.VClock // the state clock each peer last gossiped
	lastSent  time.Time
	// waitingLeave: removed, with data still to hand off (logged once).
	waitingLeave bool
	changed      chan struct{} // closed and replaced at every install (waitFor)

	kick chan struct{}
}

func (c *cluster) now() int64 { return c.clk.Now().Unix() }

// loadState returns the persisted cluster state, or a fresh single-node
// one, with self's published meta brought up to date.
func loadState(eng storage.Engine, self ring.NodeID, size int, meta ring.MemberMeta, now time.Time) (ring.State, bool, error) {
	raw, err := eng.GetMeta(metaRingState)
	var st ring.State
	switch {
	case errors.Is(err, storage.ErrNotFound):
		meta.Incarnation = 1
		st, err = freshState(self, size, meta, now)
		return st, true, err
	case err != nil:
		return st, false, err
	}
	if err := st.UnmarshalBinary(raw); err != nil {
		return st, false, fmt.Errorf("data-dir: ring state: %w", err)
	}
	if st.Size() != size {
		return st, false, fmt.Errorf("data-dir: the ring state has %d partitions, the ring size is %d", st.Size(), size)
	}
	if m, ok := st.Member(self); ok {
		meta.Incarnation = m.Meta.Incarnation + 1
		if nst, err := st.UpdateMeta(self, meta, now.Unix()); err == nil {
			st = nst
		}
	}
	return st, false, nil
}

// freshState is a new cluster of one: self owns every partition.
func freshState(self ring.NodeID, size int, meta ring.MemberMeta, now time.Time) (ring.State, error) {
	return ring.NewState(fmt.Sprintf("%s/%d", self, now.UnixNano()), size, 0, self, meta, now.Unix())
}

func wrapState(self ring.NodeID, st ring.State, digest []byte) []byte {
	b, _ := st.MarshalBinary()
	out := make([]byte, 0, len(b)+len(self)+len(digest)+16)
	out = append(out, gossipV2)
	out = binary.AppendUvarint(out, uint64(len(self)))
	out = append(out, self...)
	out = binary.AppendUvarint(out, uint64(len(b)))
	out = append(out, b...)
	return append(out, digest...)
}

// unwrapState decodes a gossip payload: the sender, its state and (from
// version 2 on) its metadata digest.
func unwrapState(b []byte) (ring.NodeID, ring.State, []byte, error) {
	var st ring.State
	if len(b) < 2 || (b[0] != gossipV1 && b[0] != gossipV2) {
		return "", st, nil, errors.New("unknown state payload")
	}
	v := b[0]
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", st, nil, errors.New("truncated state payload")
	}
	from := ring.NodeID(b[k : k+int(n)])
	b = b[k+int(n):]
	var digest []byte
	if v == gossipV2 {
		n, k = binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", st, nil, errors.New("truncated state payload")
		}
		digest = b[k+int(n):]
		b = b[k : k+int(n)]
	}
	if err := st.UnmarshalBinary(b); err != nil {
		return "", st, nil, err
	}
	return from, st, digest, nil
}

// install makes st the current state (c.mu held): kv routes by its ring,
// LocalState carries it, and the next persist writes it.
func (c *cluster) install(st ring.State) {
	old := c.state
	c.state = st
	c.payload = wrapState(c.self, st, c.md.Digest())
	if err := c.svc.SetRing(st.Ring()); err != nil {
		c.log.Error("cannot install the ring", "err", err)
	}
	c.logChanges(old, st)
	c.signalLocked()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// signalLocked wakes the waiters of waitFor (c.mu held).
func (c *cluster) signalLocked() {
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// logChanges logs what an operator wants to see in a node's log: members
// joining, leaving or removed, and ownership changes committed.
func (c *cluster) logChanges(old, st ring.State) {
	if old.IsZero() {
		return
	}
	if old.ClusterName() != st.ClusterName() {
		c.log.Info("cluster state replaced", "cluster", st.ClusterName(), "members", len(st.MembersWith(ring.StatusValid, ring.StatusJoining, ring.StatusLeaving)))
		return
	}
	for _, m := range st.Members() {
		if prev := old.Status(m.Node); prev != m.Status {
			c.log.Info("cluster member status changed", "member", m.Node, "from", prev.String(), "to", m.Status.String())
		}
	}
	if !old.RingVersion().Equal(st.RingVersion()) {
		c.log.Info("ring ownership changed", "claimant", st.Claimant(), "pending_transfers", len(st.Transfers()))
	}
}

// broadcast spreads the current state (c.mu held).
func (c *cluster) broadcast() {
	c.lastSent = c.clk.Now()
	if err := c.ml.Broadcast(c.payload); err != nil && !errors.Is(err, membership.ErrShutdown) && !errors.Is(err, membership.ErrLeft) {
		c.log.Warn("ring broadcast failed", "err", err)
	}
}

// LocalState implements membership.StateHandler.
func (c *cluster) LocalState() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.payload
}

// MergeRemoteState implements membership.StateHandler: Reconcile, Advance,
// install and gossip on if the state changed; a sender that is behind gets
// our state back (rate-limited). A sender of this cluster whose metadata
// digest differs from ours is noted for a metadata sync at the next tick.
func (c *cluster) MergeRemoteState(b []byte) {
	from, theirs, digest, err := unwrapState(b)
	if err != nil {
		c.log.Debug("ignoring malformed ring gossip", "err", err)
		return
	}
	if from == c.self {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	merged, reply, err := ring.Reconcile(c.state, theirs, from)
	if err != nil {
		if errors.Is(err, ring.ErrClusterMismatch) {
			if len(c.foreign) >= 64 {
				clear(c.foreign)
			}
			c.foreign[from] = theirs
		}
		c.log.Debug("ring gossip refused", "from", from, "err", err)
		return
	}
	if digest != nil && !bytes.Equal(digest, c.md.Digest()) {
		c.metaPeers[from] = true
	}
	if st := theirs.Status(c.self); st != 0 && st != ring.StatusInvalid && !c.knownBy[from] {
		c.knownBy[from] = true
		c.signalLocked()
	}
	if len(c.clockOf) > 1024 {
		clear(c.clockOf)
	}
	c.clockOf[from] = theirs.Clock()
	c.signalLocked()
	merged, _ = merged.Advance(c.self, c.now())
	changed := !ring.Equal(merged, c.state)
	if changed {
		c.install(merged)
	}
	switch {
	case changed, reply != ring.ReplyNone:
		c.broadcast()
	case !ring.Equal(merged, theirs) && c.clk.Now().Sub(c.lastSent) > 300*time.Millisecond:
		c.broadcast()
	}
}

// persist writes the current state, and the partitions under repair, if
// they changed since the last write.
func (c *cluster) persist() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var batch storage.Batch
	b, err := c.state.MarshalBinary()
	if err == nil && !bytes.Equal(b, c.persisted) {
		batch.SetMeta(metaRingState, b)
	}
	var rb []byte
	for _, p := range c.drv.Repairing() {
		rb = binary.AppendUvarint(rb, uint64(p))
	}
	if !bytes.Equal(rb, c.repairs) {
		batch.SetMeta(metaRepairs, rb)
	}
	if batch.Len() == 0 {
		return
	}
	if err := c.eng.Write(&batch, storage.WriteOptions{Sync: true}); err != nil {
		c.log.Error("cannot persist the ring state", "err", err)
		return
	}
	c.persisted, c.repairs = b, rb
}

// loadRepairs restarts the repairs a previous run left unfinished.
func (c *cluster) loadRepairs(r *ring.Ring) error {
	raw, err := c.eng.GetMeta(metaRepairs)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.repairs = raw
	for len(raw) > 0 {
		p, k := binary.Uvarint(raw)
		if k <= 0 {
			return errors.New("data-dir: corrupt repair list")
		}
		raw = raw[k:]
		if _, err := c.drv.Repair(int(p), r); err != nil {
			c.log.Warn("a repair left unfinished cannot resume", "partition", p, "err", err)
		}
	}
	return nil
}

// upMembers returns the other members of the cluster (any status but
// invalid) that membership reports up: the peers a metadata change is
// pushed to.
func (c *cluster) upMembers() []ring.NodeID {
	st := c.State()
	var out []ring.NodeID
	for _, m := range st.Members() {
		if m.Node != c.self && m.Status != ring.StatusInvalid && c.ml.Up(m.Node) {
			out = append(out, m.Node)
		}
	}
	return out
}

// otherMembers is every member of the cluster but this node, up or not.
func (c *cluster) otherMembers() []ring.NodeID {
	st := c.State()
	var out []ring.NodeID
	for _, m := range st.Members() {
		if m.Node != c.self && m.Status != ring.StatusInvalid {
			out = append(out, m.Node)
		}
	}
	return out
}

// clusterName is the name of the node's current cluster.
func (c *cluster) clusterName() string { return c.State().ClusterName() }

// tick is the periodic step: Advance (the claimant's work), the handoff
// scan (handoff.Driver: start ownership and hinted transfers, drop
// partitions whose ownership moved), completion marks for the ownership
// transfers that finished, metadata anti-entropy with the peers whose
// digest differed, membership events, and gossip while the cluster has
// not settled. It persists the state at the end.
func (c *cluster) tick() {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	c.logMembership()
	c.retryDead()
	c.mu.Lock()
	st, _ := c.state.Advance(c.self, c.now())
	c.mu.Unlock()
	complete := c.drv.Step(st.Ring(), st.Transfers())
	c.mgr.Sweep()
	c.aae.Step(st.Ring(), st.Transfers(), c.ml.Up)
	c.syncMetadata()

	c.mu.Lock()
	now := c.now()
	st, _ = c.state.Advance(c.self, now)
	for _, p := range complete {
		if nst, err := st.CompleteTransfer(c.self, p, now); err == nil {
			st = nst
		}
	}
	st, _ = st.Advance(c.self, now)
	if st.Status(c.self) == ring.StatusInvalid && len(st.MembersWith(ring.StatusValid, ring.StatusLeaving, ring.StatusJoining)) > 0 {
		// Removed: once every partition's data has been handed off (and
		// dropped), the node becomes a cluster of its own. Data still
		// here (a partition not dropped yet, hinted data whose owner is
		// down) keeps it in the old cluster's ring so that the handoff
		// scan can still move it: nothing is lost and nothing stale is
		// served as the new cluster's own.
		if p, ok := c.holdsData(st.Size()); ok {
			if !c.waitingLeave {
				c.log.Info("removed from the cluster; waiting for its data to be handed off before becoming a cluster of its own", "partition", p)
				c.waitingLeave = true
			}
		} else {
			st = c.resetLocked(st)
			c.waitingLeave = false
		}
	}
	changed := !ring.Equal(st, c.state)
	if changed {
		c.install(st)
	} else if digest := c.md.Digest(); !bytes.Equal(c.payload[len(c.payload)-len(digest):], digest) {
		c.payload = wrapState(c.self, st, digest) // the metadata changed
	}
	if changed || !st.Ready() || len(st.Transfers()) > 0 || len(st.MembersWith(ring.StatusJoining)) > 0 {
		c.broadcast()
	}
	c.mu.Unlock()
	c.persist()
}

// resetLocked is what a node does once its cluster has removed it (its
// leave completed, or it was force-removed while running): it becomes a
// cluster of its own again, under its name and with its data directory,
// so that it can join this cluster or another later (c.mu held).
func (c *cluster) resetLocked(old ring.State) ring.State {
	var meta ring.MemberMeta
	if m, ok := old.Member(c.self); ok {
		meta = m.Meta
	}
	meta.Incarnation++
	st, err := freshState(c.self, old.Size(), meta, c.clk.Now())
	if err != nil {
		c.log.Error("cannot reset the cluster state after leaving", "err", err)
		return old
	}
	c.log.Info("this node is no longer a member of its cluster: it is a cluster of its own again, and serves no client request until it joins a cluster", "left", old.ClusterName(), "cluster", st.ClusterName())
	clear(c.metaPeers)
	c.detach(old.ClusterName())
	return st
}

// metaDetached records, across restarts, the cluster a detached node left.
var metaDetached = []byte("left_cluster")

// detach makes the node refuse client requests until it joins a cluster
// (left: the cluster it left; "" clears it).
func (c *cluster) detach(left string) {
	var b storage.Batch
	if left == "" {
		b.DeleteMeta(metaDetached)
		c.svc.SetDetached("")
	} else {
		b.SetMeta(metaDetached, []byte(left))
		c.svc.SetDetached(fmt.Sprintf("it left cluster %s; run riakgo admin cluster join to join a cluster", left))
	}
	if err := c.eng.Write(&b, storage.WriteOptions{Sync: true}); err != nil {
		c.log.Error("cannot record the node's detached state", "err", err)
	}
}

// loadDetached restores the detached state of a node that had left its
// cluster before a restart.
func (c *cluster) loadDetached() {
	if left, err := c.eng.GetMeta(metaDetached); err == nil {
		c.svc.SetDetached(fmt.Sprintf("it left cluster %s; run riakgo admin cluster join to join a cluster", left))
	}
}

// holdsData returns a partition this node still stores data for.
func (c *cluster) holdsData(size int) (int, bool) {
	for p := 0; p < size; p++ {
		if empty, err := c.svc.PartitionEmpty(p); err != nil || !empty {
			return p, true
		}
	}
	return 0, false
}

// syncMetadata exchanges whole metadata states with the peers whose
// gossiped digest differed from ours.
func (c *cluster) syncMetadata() {
	c.mu.Lock()
	var peers []ring.NodeID
	for p := range c.metaPeers {
		peers = append(peers, p)
	}
	clear(c.metaPeers)
	c.mu.Unlock()
	for _, p := range peers {
		if !c.ml.Up(p) {
			continue
		}
		ctx, cancel := clock.WithTimeout(context.Background(), c.clk, 5*time.Second)
		if err := c.md.Sync(ctx, p); err != nil {
			c.log.Debug("metadata sync failed", "peer", p, "err", err)
		}
		cancel()
	}
}

// retryDead contacts again, with bounded backoff, the ring members that
// membership does not see alive (see RejoinMaxBackoff). Called by tick.
func (c *cluster) retryDead() {
	st := c.State()
	if st.Status(c.self) == ring.StatusInvalid {
		return
	}
	if c.rejoin == nil {
		c.rejoin = map[ring.NodeID]*rejoinState{}
	}
	now := c.clk.Now()
	seen := map[ring.NodeID]bool{}
	for _, m := range st.Members() {
		if m.Node == c.self || m.Status == ring.StatusInvalid || m.Meta.GossipAddr == "" {
			continue
		}
		seen[m.Node] = true
		if mem, ok := c.ml.Member(m.Node); ok && mem.Alive() {
			delete(c.rejoin, m.Node)
			continue
		}
		r := c.rejoin[m.Node]
		if r == nil {
			r = &rejoinState{next: now, backoff: RejoinMinBackoff}
			c.rejoin[m.Node] = r
		}
		if now.Before(r.next) || r.running.Load() {
			continue
		}
		r.next = now.Add(r.backoff)
		r.backoff = min(2*r.backoff, RejoinMaxBackoff)
		member, addr := m.Node, m.Meta.GossipAddr
		join := func() {
			if _, err := c.ml.Join([]string{addr}); err == nil {
				c.log.Info("reached a ring member membership saw down", "member", member, "gossip", addr)
			} else {
				c.log.Debug("ring member still unreachable", "member", member, "err", err)
			}
		}
		if !c.rejoinAsync {
			join()
			continue
		}
		// One attempt per member at a time, each in the background (a
		// cut-off member's connect waits for membership's stream
		// timeout), so that one silent member delays no other.
		r.running.Store(true)
		go func() {
			defer r.running.Store(false)
			join()
		}()
	}
	for n := range c.rejoin {
		if !seen[n] {
			delete(c.rejoin, n)
		}
	}
}

// logMembership logs members going down and coming back, as membership
// events report them.
func (c *cluster) logMembership() {
	for {
		select {
		case ev, ok := <-c.ml.Events():
			if !ok {
				return
			}
			if ev.Member.ID == c.self {
				continue
			}
			st := c.State()
			member := st.Status(ev.Member.ID) != 0
			switch ev.Type {
			case membership.EventJoin:
				if member {
					c.log.Info("cluster member is up", "member", ev.Member.ID, "gossip", ev.Member.GossipAddr)
				}
			case membership.EventFail:
				if member {
					c.log.Warn("cluster member is down", "member", ev.Member.ID)
				}
			case membership.EventLeave:
				if member {
					c.log.Info("cluster member stopped", "member", ev.Member.ID)
				}
			}
		default:
			return
		}
	}
}

// update applies a local change made by f, then Advances, installs,
// broadcasts and persists the result.
func (c *cluster) update(f func(st ring.State, now int64) (ring.State, error)) error {
	c.mu.Lock()
	now := c.now()
	st, err := f(c.state, now)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	st, _ = st.Advance(c.self, now)
	if !ring.Equal(st, c.state) {
		c.install(st)
		c.broadcast()
	}
	c.mu.Unlock()
	c.persist()
	return nil
}

// State returns the current cluster state.
func (c *cluster) State() ring.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// waitFor waits until cond holds for the current state, or ctx ends.
func (c *cluster) waitFor(ctx context.Context, cond func(ring.State) bool) bool {
	for {
		c.mu.Lock()
		st, ch := c.state, c.changed
		c.mu.Unlock()
		if cond(st) {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cond(c.State())
		}
	}
}

// seedAddrs returns the gossip addresses to try for a join seed: the seed
// itself if it is an address, or for a node name (riak-admin's
// "riak@host" form) the address membership or the ring state knows for
// it, else the host at the default gossip port and at this node's own.
func (c *cluster) seedAddrs(seed string) (addrs []string, name ring.NodeID) {
	if !strings.Contains(seed, "@") || strings.ContainsAny(seed, ":/") {
		return []string{seed}, "" // an address ("host:port")
	}
	name = ring.NodeID(seed)
	add := func(a string) {
		for _, x := range addrs {
			if x == a {
				return
			}
		}
		if a != "" {
			addrs = append(addrs, a)
		}
	}
	if m, ok := c.ml.Member(name); ok {
		add(m.GossipAddr)
	}
	if m, ok := c.State().Member(name); ok {
		add(m.Meta.GossipAddr)
	}
	host := seed[strings.LastIndexByte(seed, '@')+1:]
	add(net.JoinHostPort(host, DefaultGossipPort))
	if _, port, err := net.SplitHostPort(c.ml.Local().GossipAddr); err == nil {
		add(net.JoinHostPort(host, port))
	}
	return addrs, name
}

// Join is "cluster join SEED": join the seed's memberlist, then adopt the
// ring state it sent and add this node as joining; the cluster metadata
// is then exchanged with the seed. SEED is a gossip address or a node
// name.
func (c *cluster) Join(ctx context.Context, seed string) error {
	if seed == c.ml.Local().GossipAddr || ring.NodeID(seed) == c.self {
		return ring.ErrSelfJoin
	}
	addrs, want := c.seedAddrs(seed)
	c.mu.Lock()
	clear(c.foreign)
	clear(c.knownBy)
	c.mu.Unlock()
	var addr string
	var errs []string
	for _, a := range addrs {
		if a == c.ml.Local().GossipAddr {
			continue
		}
		if _, err := c.ml.Join([]string{a}); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		addr = a
		break
	}
	if addr == "" {
		return fmt.Errorf("%w: %s (tried %s)", ErrUnreachable, seed, strings.Join(errs, "; "))
	}
	var seedID ring.NodeID
	for _, m := range c.ml.Members() {
		if m.GossipAddr == addr && m.ID != c.self {
			seedID = m.ID
		}
	}
	if want != "" && seedID != "" && seedID != want {
		return fmt.Errorf("%w: %s answers at %s, not %s", ErrUnreachable, seedID, addr, want)
	}
	recovered := false
	err := c.update(func(cur ring.State, now int64) (ring.State, error) {
		seedState, ok := c.foreign[seedID]
		if !ok && seedID == "" && len(c.foreign) == 1 {
			for _, s := range c.foreign {
				seedState, ok = s, true
			}
		}
		if !ok {
			if seedID != "" && cur.Status(seedID) != 0 {
				seedState = cur // the seed is already in our cluster
			} else {
				return cur, fmt.Errorf("%w %s", ErrNoSeedRing, seed)
			}
		}
		var meta ring.MemberMeta
		if m, ok := cur.Member(c.self); ok {
			meta = m.Meta
		}
		st, err := ring.Join(cur, seedState, c.self, meta, now)
		if errors.Is(err, ring.ErrAlreadyMember) && len(cur.MembersWith(ring.StatusValid, ring.StatusJoining, ring.StatusLeaving)) == 1 &&
			cur.ClusterName() != seedState.ClusterName() {
			// The seed's cluster lists this node, which is alone in a
			// cluster of its own: it lost its state (a wiped data
			// directory). It takes its membership back; anti-entropy and
			// read repair restore its data.
			if m, ok := seedState.Member(c.self); ok && m.Meta.Incarnation >= meta.Incarnation {
				meta.Incarnation = m.Meta.Incarnation + 1
			}
			c.log.Warn("this node is already a member of the seed's cluster: recovering its membership (lost data directory?)", "seed", seed)
			recovered = true
			return ring.Recover(seedState, c.self, meta, now)
		}
		if err == nil {
			c.log.Info("joining the cluster", "seed", seedID, "cluster", seedState.ClusterName())
		}
		return st, err
	})
	if err != nil {
		return err
	}
	c.detach("")
	if recovered && !c.noRepair {
		// Its storage is gone: every partition it owns is pulled again
		// from its neighbours' replicas (progress in transfers).
		ps := c.drv.RepairOwned(c.State().Ring())
		c.log.Info("repairing the partitions of a recovered node", "partitions", len(ps))
		c.persist()
	}
	if seedID != "" {
		// riak-admin's join returns once the seed has the joining node in
		// its ring: wait (bounded) until the seed's gossip lists us, so
		// that a plan right afterwards shows the join.
		wctx, cancel := clock.WithTimeout(ctx, c.clk, planWait)
		c.waitFor(wctx, func(ring.State) bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.knownBy[seedID]
		})
		cancel()
		if err := c.md.Sync(ctx, seedID); err != nil {
			c.log.Warn("cannot fetch the cluster metadata from the seed; anti-entropy will", "seed", seedID, "err", err)
		}
	}
	return nil
}

// Leave stages "cluster leave [node]" (this node if node is empty).
func (c *cluster) Leave(ctx context.Context, node ring.NodeID) error {
	if node == "" {
		node = c.self
	}
	return c.stage(ctx, func(st ring.State, now int64) (ring.State, error) {
		return st.Stage(c.self, ring.Change{Node: node, Action: ring.ActionLeave}, now)
	})
}

// stage applies a staged change and waits (bounded by planWait) until
// the claimant's gossip shows it has seen it, so that a "cluster plan"
// made right afterwards through any node shows the change. If the
// claimant does not answer in time the change stays staged; plan shows
// it once gossip has brought it there.
func (c *cluster) stage(ctx context.Context, f func(st ring.State, now int64) (ring.State, error)) error {
	if err := c.update(f); err != nil {
		return err
	}
	mine := c.State().Clock()
	wctx, cancel := clock.WithTimeout(ctx, c.clk, planWait)
	defer cancel()
	if !c.waitFor(wctx, func(st ring.State) bool {
		cl := st.Claimant()
		if cl == c.self {
			return true
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.clockOf[cl].Descends(mine)
	}) {
		c.log.Warn("the claimant has not confirmed the staged change yet; it will see it by gossip", "claimant", c.State().Claimant())
	}
	return nil
}

// Stage stages force-remove, replace or force-replace (riak-admin's
// names).
func (c *cluster) Stage(ctx context.Context, action string, node, target ring.NodeID) error {
	var a ring.Action
	switch action {
	case "force-remove":
		a = ring.ActionRemove
	case "replace":
		a = ring.ActionReplace
	case "force-replace":
		a = ring.ActionForceReplace
	default:
		return fmt.Errorf("unknown cluster change %q", action)
	}
	return c.stage(ctx, func(st ring.State, now int64) (ring.State, error) {
		return st.Stage(c.self, ring.Change{Node: node, Action: a, Target: target}, now)
	})
}

// Clear is "cluster clear".
func (c *cluster) Clear(ctx context.Context) error {
	return c.stage(ctx, func(st ring.State, now int64) (ring.State, error) { return st.Clear(c.self, now) })
}

// Commit is "cluster commit" on the claimant.
func (c *cluster) Commit() error {
	err := c.update(func(st ring.State, now int64) (ring.State, error) { return st.Commit(c.self, nil, now) })
	if err == nil {
		c.log.Info("cluster changes committed", "claimant", c.self)
	}
	return err
}

// Plan is "cluster plan" on the claimant. It first waits (bounded by
// planWait and ctx) until this node's state has seen every change the
// asking node had seen (seen, a state clock; nil: none) and the cluster
// has converged, so that a plan right after a join or a force-remove
// made elsewhere shows it instead of failing.
func (c *cluster) Plan(ctx context.Context, seen vclock.VClock) (ring.Plan, error) {
	ctx, cancel := clock.WithTimeout(ctx, c.clk, planWait)
	defer cancel()
	c.waitFor(ctx, func(st ring.State) bool {
		if !st.Clock().Descends(seen) || !st.Ready() {
			return false
		}
		_, err := st.Plan()
		return !errors.Is(err, ring.ErrNotReady)
	})
	return c.State().Plan()
}
