package handoff

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/hashtree"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/ring"
)

// Active anti-entropy exchanges. Every vnode keeps hash trees of its keys
// per home partition, current on every write (kv). On a schedule, a node
// compares each tree of a partition it owns with the same tree of the next
// partition in the key range's preference list (the neighbour, on another
// node): segment hashes first, then, for differing segments only, the key
// hashes; each key that differs is repaired by a read of all its replicas
// (read repair). Rate limits: exchanges per interval, a byte budget for
// repairs per second, and a cap on segments per exchange; what is left is
// found by the next exchange.

// AAEVnodes is what the exchanger needs of the node's vnodes.
type AAEVnodes interface {
	// Tree returns the segment hashes of partition p's tree for home
	// partition home; false if the node has no built tree for p.
	Tree(p, home int) ([]uint64, bool)
	// SegmentKeys lists partition p's keys of home partition home that
	// fall in segs, with their object hashes.
	SegmentKeys(ctx context.Context, p, home int, segs []int) ([]hashtree.KeyHashPair, error)
	// Shared reports whether both partitions p and q replicate key (a key
	// of home partition home) as primaries.
	Shared(key []byte, home, p, q int) bool
	// Repair reads key from all its replicas (read repair) and returns the
	// object's size.
	Repair(ctx context.Context, key []byte) (int, error)
	// Unbuilt lists the partitions whose trees need a build; Build builds
	// them and returns how long it took.
	Unbuilt() []int
	Build(ctx context.Context, p int) (time.Duration, error)
}

// AAEMetrics observes anti-entropy.
type AAEMetrics interface {
	Exchange(result string, repaired int)
	TreeBuilt(seconds float64)
}

type nopAAEMetrics struct{}

func (nopAAEMetrics) Exchange(string, int) {}
func (nopAAEMetrics) TreeBuilt(float64)    {}

// AAEConfig configures an Exchanger.
type AAEConfig struct {
	Self      ring.NodeID
	Transport transport.Transport
	Vnodes    AAEVnodes
	Clock     clock.Clock
	Logger    *slog.Logger
	Metrics   AAEMetrics
	// Interval is the period of exchanges (default 15 s, Riak's
	// anti_entropy_tick); ExchangesPerInterval how many run each period
	// (default 1).
	Interval             time.Duration
	ExchangesPerInterval int
	// RepairBytesPerSecond bounds the bytes of the objects repaired
	// (default 10 MiB/s); MaxSegments the segments compared key by key in
	// one exchange (default 64).
	RepairBytesPerSecond int64
	MaxSegments          int
	// NVal is the largest n_val the schedule covers (default 3).
	NVal int
	// Timeout bounds each call to the peer (default 60 s).
	Timeout time.Duration
}

// AAEStatus is a snapshot of a node's anti-entropy counters (never sent
// between nodes; the admin routes show it as http.AAEStatusJSON).
type AAEStatus struct {
	Exchanges    int64
	InSync       int64
	Failed       int64
	KeysRepaired int64
	TreesBuilt   int64
	LastExchange time.Time
}

// Exchanger runs this node's anti-entropy.
type Exchanger struct {
	cfg  AAEConfig
	log  *slog.Logger
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu        sync.Mutex
	last      time.Time // last interval start
	budget    float64   // repair bytes available
	budgetAt  time.Time
	next      int // round-robin position in the schedule
	segCursor int // rotates the MaxSegments window
	busy      bool
	building  bool
	st        AAEStatus
}

// NewExchanger returns an exchanger and registers its handlers.
func NewExchanger(cfg AAEConfig) (*Exchanger, error) {
	if cfg.Transport == nil || cfg.Vnodes == nil || cfg.Self == "" {
		return nil, errors.New("riakgo/handoff: Self, Transport and Vnodes are required")
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopAAEMetrics{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.ExchangesPerInterval <= 0 {
		cfg.ExchangesPerInterval = 1
	}
	if cfg.RepairBytesPerSecond <= 0 {
		cfg.RepairBytesPerSecond = 10 << 20
	}
	if cfg.MaxSegments <= 0 {
		cfg.MaxSegments = 64
	}
	if cfg.NVal <= 0 {
		cfg.NVal = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	e := &Exchanger{cfg: cfg, log: cfg.Logger}
	e.base, e.stop = context.WithCancel(context.Background())
	e.budgetAt = cfg.Clock.Now()
	e.budget = float64(cfg.RepairBytesPerSecond)
	cfg.Transport.Handle(wire.MsgAAETree, e.handleTree)
	cfg.Transport.Handle(wire.MsgAAEKeys, e.handleKeys)
	return e, nil
}

// Close stops exchanges and builds and waits for them.
func (e *Exchanger) Close() {
	e.stop()
	e.wg.Wait()
}

// Status returns the exchanger's counters.
func (e *Exchanger) Status() AAEStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

type treeReq struct {
	Partition int `msgpack:"p"`
	Home      int `msgpack:"h"`
}

type treeResp struct {
	Built    bool     `msgpack:"b"`
	Segments []uint64 `msgpack:"s"`
}

type keysReq struct {
	Partition int   `msgpack:"p"`
	Home      int   `msgpack:"h"`
	Segments  []int `msgpack:"s"`
}

type keysResp struct {
	Keys []hashtree.KeyHashPair `msgpack:"k"`
}

func (e *Exchanger) handleTree(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req treeReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	segs, ok := e.cfg.Vnodes.Tree(req.Partition, req.Home)
	return treeResp{Built: ok, Segments: segs}, nil
}

func (e *Exchanger) handleKeys(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req keysReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	if len(req.Segments) > hashtree.Segments {
		return nil, errors.New("riakgo/handoff: too many segments")
	}
	keys, err := e.cfg.Vnodes.SegmentKeys(ctx, req.Partition, req.Home, req.Segments)
	if err != nil {
		return nil, err
	}
	return keysResp{Keys: keys}, nil
}

// Pair is one exchange of the schedule: partition P (on this node) with
// partition Q on node Peer, for the keys of home partition Home.
type Pair struct {
	P, Q, Home int
	Peer       ring.NodeID
}

// Schedule returns this node's exchanges on ring r. For every home
// partition h, the NVal partitions h .. h+NVal-1 replicate its keys; each
// pair of them on different nodes is exchanged once, by the owner of the
// one nearer h. So every replica is compared with every replica on another
// node, also where a preference list has two partitions on one node
// (small clusters), and a node that lost its data is repaired from all
// sides. Pairs with a pending transfer or a peer that is down are left
// out.
func (e *Exchanger) Schedule(r *ring.Ring, transfers []ring.Transfer, up func(ring.NodeID) bool) []Pair {
	moving := map[int]bool{}
	for _, t := range transfers {
		moving[t.Partition] = true
	}
	size := r.Size()
	n := min(e.cfg.NVal, size)
	var out []Pair
	for p := 0; p < size; p++ {
		if r.Owner(p) != e.cfg.Self || moving[p] {
			continue
		}
		for d := 0; d < n; d++ { // p is the d-th replica of home h
			h := (p - d + size) % size
			for f := d + 1; f < n; f++ {
				q := (h + f) % size
				peer := r.Owner(q)
				if peer == e.cfg.Self || moving[q] || (up != nil && !up(peer)) {
					continue
				}
				out = append(out, Pair{P: p, Q: q, Home: h, Peer: peer})
			}
		}
	}
	return out
}

// Step is called on the node's periodic tick: it builds trees that need
// it (one at a time, in the background) and, once per interval, starts the
// interval's exchanges in the background.
func (e *Exchanger) Step(r *ring.Ring, transfers []ring.Transfer, up func(ring.NodeID) bool) {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base.Err() != nil {
		return
	}
	if !e.building {
		if todo := e.cfg.Vnodes.Unbuilt(); len(todo) > 0 {
			e.building = true
			e.wg.Add(1)
			go e.build(todo)
		}
	}
	if e.busy || now.Sub(e.last) < e.cfg.Interval {
		return
	}
	sched := e.Schedule(r, transfers, up)
	if len(sched) == 0 {
		return
	}
	// ExchangesPerInterval for every interval since the last round (the
	// tick may be longer than the interval), at most one pass over the
	// schedule.
	n := e.cfg.ExchangesPerInterval
	if !e.last.IsZero() {
		n *= int(now.Sub(e.last) / e.cfg.Interval)
	}
	e.last = now
	var run []Pair
	for i := 0; i < n && i < len(sched); i++ {
		run = append(run, sched[(e.next+i)%len(sched)])
	}
	e.next = (e.next + len(run)) % len(sched)
	e.busy = true
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for _, pr := range run {
			if e.base.Err() != nil {
				break
			}
			if _, err := e.Exchange(e.base, pr); err != nil && e.base.Err() == nil {
				e.log.Debug("anti-entropy exchange failed", "partition", pr.P, "peer", pr.Peer, "home", pr.Home, "err", err)
			}
		}
		e.mu.Lock()
		e.busy = false
		e.mu.Unlock()
	}()
}

func (e *Exchanger) build(todo []int) {
	defer e.wg.Done()
	for _, p := range todo {
		if e.base.Err() != nil {
			break
		}
		d, err := e.cfg.Vnodes.Build(e.base, p)
		if err != nil {
			e.log.Warn("anti-entropy tree build failed", "partition", p, "err", err)
			continue
		}
		e.cfg.Metrics.TreeBuilt(d.Seconds())
		e.mu.Lock()
		e.st.TreesBuilt++
		e.mu.Unlock()
	}
	e.mu.Lock()
	e.building = false
	e.mu.Unlock()
}

// ExchangeResult says what one exchange found.
type ExchangeResult struct {
	Segments int // differing segments
	Keys     int // differing keys (shared by both partitions)
	Repaired int // keys repaired (the rest wait for the byte budget)
}

// takeBudget refills the repair budget and takes n bytes if available.
func (e *Exchanger) takeBudget(n int) bool {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	rate := float64(e.cfg.RepairBytesPerSecond)
	e.budget += now.Sub(e.budgetAt).Seconds() * rate
	e.budgetAt = now
	if e.budget > rate {
		e.budget = rate
	}
	if e.budget <= 0 {
		return false
	}
	e.budget -= float64(n)
	return true
}

// charge takes n repaired bytes from the budget (it may go negative: the
// next repairs wait until it refills).
func (e *Exchanger) charge(n int) {
	e.mu.Lock()
	e.budget -= float64(n)
	e.mu.Unlock()
}

// Exchange compares one pair and repairs what differs.
func (e *Exchanger) Exchange(ctx context.Context, pr Pair) (ExchangeResult, error) {
	var res ExchangeResult
	result := "failed"
	defer func() {
		e.cfg.Metrics.Exchange(result, res.Repaired)
		e.mu.Lock()
		e.st.Exchanges++
		e.st.LastExchange = e.cfg.Clock.Now()
		e.st.KeysRepaired += int64(res.Repaired)
		switch result {
		case "failed":
			e.st.Failed++
		case "in_sync":
			e.st.InSync++
		}
		e.mu.Unlock()
	}()
	mine, ok := e.cfg.Vnodes.Tree(pr.P, pr.Home)
	if !ok {
		result = "skipped"
		return res, nil
	}
	var theirs treeResp
	if err := e.call(ctx, pr.Peer, wire.MsgAAETree, treeReq{Partition: pr.Q, Home: pr.Home}, &theirs); err != nil {
		return res, err
	}
	if !theirs.Built {
		result = "skipped"
		return res, nil
	}
	segs := hashtree.DiffSegments(mine, theirs.Segments)
	res.Segments = len(segs)
	if len(segs) == 0 {
		result = "in_sync"
		return res, nil
	}
	if len(segs) > e.cfg.MaxSegments {
		// A rotating window, so that segments that differ for good (keys
		// the two partitions do not share) cannot starve the others.
		e.mu.Lock()
		start := e.segCursor % len(segs)
		e.segCursor += e.cfg.MaxSegments
		e.mu.Unlock()
		segs = append(segs[start:], segs[:start]...)[:e.cfg.MaxSegments]
	}
	local, err := e.cfg.Vnodes.SegmentKeys(ctx, pr.P, pr.Home, segs)
	if err != nil {
		return res, err
	}
	var remote keysResp
	if err := e.call(ctx, pr.Peer, wire.MsgAAEKeys, keysReq{Partition: pr.Q, Home: pr.Home, Segments: segs}, &remote); err != nil {
		return res, err
	}
	for _, k := range hashtree.DiffKeys(local, remote.Keys) {
		if !e.cfg.Vnodes.Shared(k, pr.Home, pr.P, pr.Q) {
			continue
		}
		res.Keys++
		if !e.takeBudget(0) {
			continue // over budget: the next exchange finds it again
		}
		n, err := e.cfg.Vnodes.Repair(ctx, k)
		if err != nil {
			e.log.Debug("anti-entropy repair failed", "err", err)
			continue
		}
		e.charge(n)
		res.Repaired++
	}
	result = "repaired"
	if res.Keys == 0 {
		result = "in_sync"
	}
	if res.Repaired > 0 {
		e.log.Info("anti-entropy repaired keys", "partition", pr.P, "peer", pr.Peer, "home", pr.Home, "segments", res.Segments, "keys", res.Keys, "repaired", res.Repaired)
	}
	return res, nil
}

func (e *Exchanger) call(ctx context.Context, to ring.NodeID, typ wire.MsgType, req, resp any) error {
	cctx, cancel := clock.WithTimeout(ctx, e.cfg.Clock, e.cfg.Timeout)
	defer cancel()
	return e.cfg.Transport.Call(cctx, to, typ, req, resp)
}
