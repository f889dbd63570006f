package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"sync"
	"time"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/memberlist"
	"github.com/riakgo/riakgo/internal/transfers"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
)

// The cluster half of a node: the ring's cluster state (ring.State), kept
// in the storage metadata under metaRingState, gossiped through the
// membership's StateHandler and Broadcast, merged with ring.Reconcile and
// advanced with ring.Advance, and installed in kv with SetRing whenever it
// changes.

var metaRingState = []byte("ring_state")

// gossipVersion is the first byte of every state payload: version 1 is
// uvarint(len(sender)) sender state, because memberlist does not say who
// sent a state and ring.Reconcile needs to know.
const gossipVersion = 1

// tickInterval is the period of the claimant/transfer loop.
const tickInterval = time.Second

// Errors of the cluster admin operations.
var (
	// ErrUnreachable: the seed of a join could not be contacted.
	ErrUnreachable = errors.New("riakgo/node: node is not reachable")
	// ErrNoSeedRing: the seed answered but its ring state did not arrive.
	ErrNoSeedRing = errors.New("riakgo/node: unable to get the ring from the seed")
	// ErrForward: forwarding to the claimant failed.
	ErrForward = errors.New("riakgo/node: cannot reach the claimant")
)

type cluster struct {
	self  ring.NodeID
	log   *slog.Logger
	clk   clock.Clock
	ml    *memberlist.Memberlist
	svc   *kv.Service // set before the handler is registered
	drv   *transfers.Driver
	mgr   *handoff.Manager
	aae   *handoff.Exchanger
	ticks int // loop only
	eng   storage.Engine

	mu        sync.Mutex
	state     ring.State
	payload   []byte                     // the encoded, wrapped state (LocalState)
	persisted []byte                     // the state bytes last written to storage
	foreign   map[ring.NodeID]ring.State // states of other clusters received (join seeds)
	lastSent  time.Time

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
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
		st, err = ring.NewState(fmt.Sprintf("%s/%d", self, now.UnixNano()), size, 0, self, meta, now.Unix())
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

func wrapState(self ring.NodeID, st ring.State) []byte {
	b, _ := st.MarshalBinary()
	out := make([]byte, 0, len(b)+len(self)+8)
	out = append(out, gossipVersion)
	out = binary.AppendUvarint(out, uint64(len(self)))
	out = append(out, self...)
	return append(out, b...)
}

func unwrapState(b []byte) (ring.NodeID, ring.State, error) {
	var st ring.State
	if len(b) < 2 || b[0] != gossipVersion {
		return "", st, errors.New("unknown state payload")
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || uint64(len(b)-1-k) < n {
		return "", st, errors.New("truncated state payload")
	}
	from := ring.NodeID(b[1+k : 1+k+int(n)])
	if err := st.UnmarshalBinary(b[1+k+int(n):]); err != nil {
		return "", st, err
	}
	return from, st, nil
}

// install makes st the current state (c.mu held): kv routes by its ring,
// LocalState carries it, and the loop persists it.
func (c *cluster) install(st ring.State) {
	c.state = st
	c.payload = wrapState(c.self, st)
	if err := c.svc.SetRing(st.Ring()); err != nil {
		c.log.Error("cannot install the ring", "err", err)
	}
	select {
	case c.kick <- struct{}{}:
	default:
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
// our state back (rate-limited).
func (c *cluster) MergeRemoteState(b []byte) {
	from, theirs, err := unwrapState(b)
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

// loop persists changed states and runs the periodic step.
func (c *cluster) loop() {
	defer c.wg.Done()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			c.persist()
			return
		case <-c.kick:
			c.persist()
		case <-t.C:
			c.tick()
			c.persist()
		}
	}
}

// persist writes the current state if it changed since the last write.
func (c *cluster) persist() {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	b, err := st.MarshalBinary()
	if err != nil || bytes.Equal(b, c.persisted) {
		return
	}
	var batch storage.Batch
	batch.SetMeta(metaRingState, b)
	if err := c.eng.Write(&batch, storage.WriteOptions{Sync: true}); err != nil {
		c.log.Error("cannot persist the ring state", "err", err)
		return
	}
	c.persisted = b
}

// tick is the periodic step: Advance (the claimant's work), the handoff
// scan (transfers.Driver: start ownership and hinted transfers, drop
// partitions whose ownership moved), completion marks for the ownership
// transfers that finished, and gossip while the cluster has not settled.
func (c *cluster) tick() {
	c.mu.Lock()
	st, _ := c.state.Advance(c.self, c.now())
	c.mu.Unlock()
	complete := c.drv.Step(st.Ring(), st.Transfers())
	c.mgr.Sweep()
	c.aae.Step(st.Ring(), st.Transfers(), c.ml.Up)

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	st, _ = c.state.Advance(c.self, now)
	for _, p := range complete {
		if nst, err := st.CompleteTransfer(c.self, p, now); err == nil {
			st = nst
		}
	}
	st, _ = st.Advance(c.self, now)
	changed := !ring.Equal(st, c.state)
	if changed {
		c.install(st)
	}
	if changed || !st.Ready() || len(st.Transfers()) > 0 || len(st.MembersWith(ring.StatusJoining)) > 0 {
		c.broadcast()
	}
}

// update applies a local change made by f, then Advances, installs and
// broadcasts the result.
func (c *cluster) update(f func(st ring.State, now int64) (ring.State, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	st, err := f(c.state, now)
	if err != nil {
		return err
	}
	st, _ = st.Advance(c.self, now)
	if !ring.Equal(st, c.state) {
		c.install(st)
		c.broadcast()
	}
	return nil
}

// State returns the current cluster state.
func (c *cluster) State() ring.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Join is "cluster join SEED": join the seed's memberlist, then adopt the
// ring state it sent and add this node as joining.
func (c *cluster) Join(ctx context.Context, seed string) error {
	if seed == c.ml.Local().GossipAddr {
		return fmt.Errorf("%w: this node cannot join itself", ring.ErrBadChange)
	}
	c.mu.Lock()
	clear(c.foreign)
	c.mu.Unlock()
	if _, err := c.ml.Join([]string{seed}); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, seed, err)
	}
	var seedID ring.NodeID
	for _, m := range c.ml.Members() {
		if m.GossipAddr == seed && m.ID != c.self {
			seedID = m.ID
		}
	}
	return c.update(func(cur ring.State, now int64) (ring.State, error) {
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
			return ring.Recover(seedState, c.self, meta, now)
		}
		return st, err
	})
}

// Leave stages "cluster leave [node]" (this node if node is empty).
func (c *cluster) Leave(node ring.NodeID) error {
	if node == "" {
		node = c.self
	}
	return c.update(func(st ring.State, now int64) (ring.State, error) {
		return st.Stage(c.self, ring.Change{Node: node, Action: ring.ActionLeave}, now)
	})
}

// Stage stages force-remove, replace or force-replace (riak-admin's
// names).
func (c *cluster) Stage(action string, node, target ring.NodeID) error {
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
	return c.update(func(st ring.State, now int64) (ring.State, error) {
		return st.Stage(c.self, ring.Change{Node: node, Action: a, Target: target}, now)
	})
}

// Clear is "cluster clear".
func (c *cluster) Clear() error {
	return c.update(func(st ring.State, now int64) (ring.State, error) { return st.Clear(c.self, now) })
}

// Commit is "cluster commit" on the claimant.
func (c *cluster) Commit() error {
	return c.update(func(st ring.State, now int64) (ring.State, error) { return st.Commit(c.self, nil, now) })
}

// claimantURL returns the claimant's HTTP base URL, or "" if this node is
// the claimant.
func (c *cluster) claimantURL() (string, error) {
	st := c.State()
	cl := st.Claimant()
	if cl == c.self {
		return "", nil
	}
	addr := ""
	if m, ok := st.Member(cl); ok {
		addr = m.Meta.HTTPAddr
	}
	if m, ok := c.ml.Member(cl); ok && m.Meta.HTTPAddr != "" {
		addr = m.Meta.HTTPAddr
	}
	if addr == "" {
		return "", fmt.Errorf("%w: no HTTP address known for claimant %s", ErrForward, cl)
	}
	return "http://" + addr, nil
}

// forward sends an admin request to the claimant and decodes its JSON
// answer into out (if not nil).
func forward(ctx context.Context, method, url string, out any) error {
	req, err := nethttp.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set(riakhttp.ForwardedHeader, "1")
	cl := &nethttp.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrForward, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrForward, err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error, Reason string }
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = string(b)
		}
		return &riakhttp.AdminError{Status: resp.StatusCode, Msg: e.Error, Reason: e.Reason}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
