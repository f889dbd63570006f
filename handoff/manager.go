package handoff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transfer"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/ring"
)

// The vocabulary of transfers lives in internal/transfer, below both
// handoff and kv; these are its names here.
type (
	// Kind is the kind of a transfer.
	Kind = transfer.Kind
	// Item is one object of a partition: its storage key and encoded
	// value.
	Item = transfer.Item
	// Job is one transfer the node wants.
	Job = transfer.Job
)

// Transfer kinds.
const (
	Ownership = transfer.Ownership
	Hinted    = transfer.Hinted
	Repair    = transfer.Repair
)

// RepairVnodes is what a repair needs of the sender's vnodes besides
// Vnodes; the manager's Vnodes must implement it for repairs to run.
type RepairVnodes interface {
	// FoldRepair is Fold over partition source restricted to the objects
	// whose preference list includes partition target.
	FoldRepair(ctx context.Context, source, target int, after []byte, fn func(key, value []byte) error) error
}

// Vnodes is what the manager needs of the node's vnodes. Implementations
// must be safe for concurrent use.
type Vnodes interface {
	// Fold calls fn for each object of partition p whose storage key sorts
	// after after (every object when after is nil), in key order, from a
	// consistent snapshot, until fn returns an error (which Fold returns).
	// The slices passed to fn are valid only during the call.
	Fold(ctx context.Context, p int, after []byte, fn func(key, value []byte) error) error
	// Estimate returns an estimate of the bytes partition p holds.
	Estimate(p int) int64
	// Receive merges items into this node's copy of partition p as
	// replica writes (no object limits apply) and returns once they are on
	// stable storage.
	Receive(p int, items []Item) error

	// Starting is called before an outbound transfer folds its
	// partition. For an ownership transfer the vnode begins to record the
	// keys written from now on. Called again when a transfer resumes.
	Starting(j Job) error
	// Sent is called after the receiver acknowledged a batch (a hinted
	// transfer drops the objects that did not change since they were read).
	Sent(j Job, items []Item)
	// Folded is called once the fold has been sent. For an ownership
	// transfer the vnode starts forwarding requests to the new owner and
	// returns the objects written since the transfer began, which are
	// sent before the transfer completes.
	Folded(j Job) ([]Item, error)
}

// Metrics observes transfers; implementations must be safe for concurrent
// use.
type Metrics interface {
	// TransferDone is called when a transfer ends: ok, failed or refused.
	TransferDone(kind string, result string)
	// TransferProgress counts objects and bytes sent.
	TransferProgress(kind string, objects, bytes int)
	// ActiveTransfers reports the current number of transfers, by
	// direction ("inbound", "outbound").
	ActiveTransfers(direction string, n int)
}

type nopMetrics struct{}

func (nopMetrics) TransferDone(string, string)       {}
func (nopMetrics) TransferProgress(string, int, int) {}
func (nopMetrics) ActiveTransfers(string, int)       {}

// Config configures a Manager.
type Config struct {
	// Self is this node.
	Self ring.NodeID
	// Transport carries the transfers; the manager registers its
	// handlers on it.
	Transport transport.Transport
	// Vnodes are this node's vnodes.
	Vnodes Vnodes
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics observes transfers (nil: none).
	Metrics Metrics
	// Concurrency is handoff_concurrency: the most transfers, inbound and
	// outbound together, this node runs at once (default 2).
	Concurrency int
	// BatchCount and BatchBytes bound a batch (default 500 objects, 1 MiB);
	// an object larger than BatchBytes travels alone.
	BatchCount int
	BatchBytes int
	// Window is how many batches of one transfer may be in flight
	// (default 2): the sender reads and encodes the next batch while the
	// receiver merges and syncs the previous one.
	Window int
	// Timeout bounds each call of a transfer and how long a receiver keeps
	// a slot for a sender that went silent (default 120 s, Riak's
	// handoff_timeout). StallTimeout, when shorter, is the bound.
	Timeout time.Duration
	// StallTimeout is how long a transfer may make no progress (default
	// 10 s): a call of the transfer that has not answered by then fails
	// the transfer at once (no immediate retry: a later scan resumes it
	// from the last acknowledged batch), and a receiver frees the slot of
	// a sender that has been silent that long between batches. Both
	// sides' slots are free again within it after a peer vanished.
	StallTimeout time.Duration
	// Retries is how many times a broken transfer resumes before it is
	// abandoned until the next scan (default 3).
	Retries int
	// InboundDone, if set, is called when an inbound transfer ends
	// complete (the sender's End), with the job as the sender described
	// it (To is this node) and the sender.
	InboundDone func(j Job, from ring.NodeID)
	// AcceptRepair, if set, decides whether this node sends the repair j
	// a peer asks for (nil error: queued). Without it repairs are refused.
	AcceptRepair func(j Job) error
	// Up, if set, reports whether a node is up (membership): a transfer
	// that stalled is retried at once only if its peer still is.
	Up func(ring.NodeID) bool
	// Done is called (from the transfer's goroutine) when an outbound
	// transfer ends, before its slot is freed; err is nil if it completed.
	Done func(j Job, err error)
	// Planned, if set, says whether an ownership job is still planned
	// (Driver.Planned); one that is not fails at its start, before
	// Vnodes.Starting, so an abandoned transfer does not begin again.
	Planned func(j Job) bool
}

func (c *Config) defaults() {
	c.Clock = clock.OrReal(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 2
	}
	if c.BatchCount <= 0 {
		c.BatchCount = 500
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1 << 20
	}
	if c.Window <= 0 {
		c.Window = 2
	}
	if c.Timeout <= 0 {
		c.Timeout = 120 * time.Second
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 10 * time.Second
	}
	c.StallTimeout = min(c.StallTimeout, c.Timeout)
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 3
	}
}

// Direction says which side of a transfer this node is.
type Direction string

// Directions.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Progress is one active transfer as seen by one side. It travels in the
// internode body of MsgHandoffStatus (see Status); the admin routes show it
// as http.ProgressJSON.
type Progress struct {
	ID        uint64 `msgpack:"ID"`
	Kind      string `msgpack:"Kind"`
	Partition int    `msgpack:"Partition"`
	// Source is, for a repair, the partition the data comes from.
	Source    int         `msgpack:"Source"`
	From      ring.NodeID `msgpack:"From"`
	To        ring.NodeID `msgpack:"To"`
	Direction Direction   `msgpack:"Direction"`
	Started   time.Time   `msgpack:"Started"`
	Updated   time.Time   `msgpack:"Updated"`
	Objects   int64       `msgpack:"Objects"`
	Bytes     int64       `msgpack:"Bytes"`
	// SizeBytes is the sender's estimate of the partition's size (0 if
	// unknown, e.g. on the inbound side).
	SizeBytes int64 `msgpack:"SizeBytes"`
	Attempt   int   `msgpack:"Attempt"`
}

// Status is a snapshot of a node's transfers: Manager.Status's answer
// and the internode body of MsgHandoffStatus (ClusterStatus). Its msgpack
// keys are the field names the body has always had on the wire; keep
// them when a field is renamed. The admin routes show it as
// http.TransferStatusJSON (the node wiring converts).
type Status struct {
	Node        ring.NodeID `msgpack:"Node"`
	Concurrency int         `msgpack:"Concurrency"`
	// Waiting counts the partitions this node holds that it should hand
	// off (riak-admin's "waiting to handoff N partitions").
	Waiting int `msgpack:"Waiting"`
	// Repairing counts this node's partitions under repair that still
	// wait for data from a neighbour (riakgo's addition).
	Repairing int        `msgpack:"Repairing"`
	Active    []Progress `msgpack:"Active"`
	// Totals since the node started.
	Completed int64 `msgpack:"Completed"`
	Failed    int64 `msgpack:"Failed"`
	Refused   int64 `msgpack:"Refused"`
	TimedOut  int64 `msgpack:"TimedOut"`
	Objects   int64 `msgpack:"Objects"`
	Bytes     int64 `msgpack:"Bytes"`
}

// Manager runs this node's transfers. Its methods are safe for concurrent
// use.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu        sync.Mutex
	out       map[jobKey]*outbound
	in        map[inKey]*inbound
	resume    map[jobKey]resumePoint // where a broken transfer resumes
	waiting   int
	repairing int
	queue     []Job // offered jobs not started yet (Offer)
	repairs   []Job // repairs peers asked for, not started yet
	totals    Status
	closed    bool
	rnd       *rand.Rand
	sweeping  bool
}

type jobKey struct {
	p    int
	kind Kind
	to   ring.NodeID
	src  int // repairs: the source partition
}

func keyOf(j Job) jobKey {
	k := jobKey{p: j.Partition, kind: j.Kind, to: j.To}
	if j.Kind == Repair {
		k.src = j.Source
	}
	return k
}

type resumePoint struct {
	after []byte
	at    time.Time
}

// inKey names an inbound transfer: ids are unique per sender only.
type inKey struct {
	from ring.NodeID
	id   uint64
}

type outbound struct {
	job Job
	pr  Progress
}

type inbound struct {
	pr       Progress
	lastSeen time.Time
	busy     int // batches being merged now: the sender is not silent
}

// New returns a manager and registers its handlers on the transport.
func New(cfg Config) (*Manager, error) {
	if cfg.Transport == nil || cfg.Vnodes == nil || cfg.Self == "" {
		return nil, errors.New("riakgo/handoff: Self, Transport and Vnodes are required")
	}
	cfg.defaults()
	m := &Manager{cfg: cfg, log: cfg.Logger, out: map[jobKey]*outbound{}, in: map[inKey]*inbound{},
		resume: map[jobKey]resumePoint{}, rnd: rand.New(rand.NewPCG(uint64(cfg.Clock.Now().UnixNano()), hashName(cfg.Self)))}
	m.base, m.stop = context.WithCancel(context.Background())
	m.totals.Node = cfg.Self
	t := cfg.Transport
	t.Handle(wire.MsgHandoffBegin, m.handleBegin)
	t.Handle(wire.MsgHandoffBatch, m.handleBatch)
	t.Handle(wire.MsgHandoffEnd, m.handleEnd)
	t.Handle(wire.MsgHandoffStatus, m.handleStatus)
	t.Handle(wire.MsgHandoffRepair, m.handleRepair)
	return m, nil
}

// hashName is FNV-1a of a node name (seeds transfer ids apart on nodes
// started at the same instant).
func hashName(n ring.NodeID) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(n); i++ {
		h ^= uint64(n[i])
		h *= 1099511628211
	}
	return h
}

// Close stops every transfer and waits for the senders to return.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
}

// slotsUsed is the number of transfers running (m.mu held).
func (m *Manager) slotsUsed() int { return len(m.out) + len(m.in) }

// SetWaiting records how many partitions this node should hand off (the
// node's scan computes it).
func (m *Manager) SetWaiting(n int) {
	m.mu.Lock()
	m.waiting = n
	m.mu.Unlock()
}

// SetRepairing records how many of this node's partitions are under
// repair (the node's scan computes it).
func (m *Manager) SetRepairing(n int) {
	m.mu.Lock()
	m.repairing = n
	m.mu.Unlock()
}

// Offer replaces the queue of wanted transfers (the node's scan) and
// starts as many as slots allow; the rest start as running transfers end,
// until the next Offer. It records len(jobs) as waiting.
func (m *Manager) Offer(jobs []Job) {
	m.mu.Lock()
	m.waiting = len(jobs)
	m.queue = append(m.queue[:0], jobs...)
	m.mu.Unlock()
	m.startQueued()
}

// startQueued starts queued jobs while slots are free: the scan's, then
// the repairs peers asked for.
func (m *Manager) startQueued() {
	for {
		m.mu.Lock()
		if m.closed || len(m.queue)+len(m.repairs) == 0 || m.slotsUsed() >= m.cfg.Concurrency {
			m.mu.Unlock()
			return
		}
		var j Job
		if len(m.queue) > 0 {
			j = m.queue[0]
			m.queue = m.queue[1:]
		} else {
			j = m.repairs[0]
			m.repairs = m.repairs[1:]
		}
		m.mu.Unlock()
		m.Start(j) // false: already running, or its partition is busy
	}
}

// Forget drops the resume points of partition p's transfers (the
// transfer was abandoned: a later one starts from the beginning, with the
// vnode tracking writes afresh).
func (m *Manager) Forget(p int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.resume {
		if k.p == p {
			delete(m.resume, k)
		}
	}
}

// Running reports whether a transfer of j is active.
func (m *Manager) Running(j Job) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.out[keyOf(j)]
	return ok
}

// Start begins the transfer j in the background if a slot is free and it
// is not already running; it reports whether it started.
func (m *Manager) Start(j Job) bool {
	k := keyOf(j)
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	if m.closed || m.slotsUsed() >= m.cfg.Concurrency {
		m.mu.Unlock()
		return false
	}
	if _, ok := m.out[k]; ok {
		m.mu.Unlock()
		return false
	}
	// Another transfer of the same partition (say, hinted to a different
	// node) must not run at the same time: the hooks keep state per vnode.
	// A repair only reads its source partition and runs no hooks.
	for ok := range m.out {
		if ok.p == j.Partition && ok.kind != Repair && j.Kind != Repair {
			m.mu.Unlock()
			return false
		}
	}
	if _, ok := m.cfg.Vnodes.(RepairVnodes); j.Kind == Repair && !ok {
		m.mu.Unlock()
		return false
	}
	o := &outbound{job: j, pr: Progress{ID: m.rnd.Uint64() | 1, Kind: j.Kind.String(), Partition: j.Partition,
		From: m.cfg.Self, To: j.To, Direction: Outbound, Started: now, Updated: now,
		SizeBytes: m.cfg.Vnodes.Estimate(j.Folded())}}
	if j.Kind == Repair {
		o.pr.Source = j.Source
	}
	m.out[k] = o
	m.cfg.Metrics.ActiveTransfers(string(Outbound), len(m.out))
	m.wg.Add(1)
	m.mu.Unlock()
	go m.run(k, o)
	return true
}

// Status returns a snapshot of this node's transfers.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.totals
	st.Concurrency = m.cfg.Concurrency
	st.Waiting = m.waiting
	st.Repairing = m.repairing
	st.Active = nil
	for _, o := range m.out {
		st.Active = append(st.Active, o.pr)
	}
	for _, i := range m.in {
		st.Active = append(st.Active, i.pr)
	}
	sort.Slice(st.Active, func(a, b int) bool {
		x, y := st.Active[a], st.Active[b]
		if x.Direction != y.Direction {
			return x.Direction > y.Direction // outbound first
		}
		return x.Partition < y.Partition
	})
	return st
}

// ClusterStatus asks every node in nodes (this one included) for its
// status; unreachable nodes are returned in the second result.
func (m *Manager) ClusterStatus(ctx context.Context, nodes []ring.NodeID) ([]Status, []ring.NodeID) {
	out := make([]Status, len(nodes))
	ok := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n == m.cfg.Self {
			out[i], ok[i] = m.Status(), true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := clock.WithTimeout(ctx, m.cfg.Clock, 5*time.Second)
			defer cancel()
			var st Status
			if err := m.cfg.Transport.Call(cctx, n, wire.MsgHandoffStatus, struct{}{}, &st); err == nil {
				out[i], ok[i] = st, true
			}
		}()
	}
	wg.Wait()
	var res []Status
	var down []ring.NodeID
	for i := range nodes {
		if ok[i] {
			res = append(res, out[i])
		} else {
			down = append(down, nodes[i])
		}
	}
	return res, down
}

// Sweep frees the slots of inbound transfers whose sender has been silent
// (no batch being merged, none received) longer than the stall timeout.
// The node calls it on its periodic tick.
func (m *Manager) Sweep() {
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	freed := false
	defer func() {
		if freed {
			go m.startQueued()
		}
	}()
	for id, i := range m.in {
		if i.busy == 0 && now.Sub(i.lastSeen) > m.cfg.StallTimeout {
			freed = true
			delete(m.in, id)
			m.totals.TimedOut++
			m.cfg.Metrics.TransferDone(i.pr.Kind, "timeout")
			m.log.Warn("handoff receive timed out; slot freed", "partition", i.pr.Partition, "from", i.pr.From, "objects", i.pr.Objects)
		}
	}
	for k, r := range m.resume {
		if now.Sub(r.at) > 10*m.cfg.Timeout {
			delete(m.resume, k)
		}
	}
	m.cfg.Metrics.ActiveTransfers(string(Inbound), len(m.in))
}

// The messages.

type beginReq struct {
	ID        uint64 `msgpack:"id"`
	Partition int    `msgpack:"p"`
	Kind      Kind   `msgpack:"kind"`
	Resume    bool   `msgpack:"resume,omitempty"`
	Source    int    `msgpack:"src,omitempty"` // repairs
}

// repairReq asks a node to send the repair of partition Target (on the
// asking node) from its partition Source.
type repairReq struct {
	Target int `msgpack:"t"`
	Source int `msgpack:"s"`
}

type repairResp struct {
	// Refused says why the node will not send the repair ("" : queued,
	// running or just done).
	Refused string `msgpack:"refused,omitempty"`
}

type beginResp struct {
	Busy bool `msgpack:"busy,omitempty"`
}

type batchReq struct {
	ID        uint64 `msgpack:"id"`
	Partition int    `msgpack:"p"`
	Items     []Item `msgpack:"items"`
}

type endReq struct {
	ID uint64 `msgpack:"id"`
	// Abandoned: the sender gave up (the transfer did not complete).
	Abandoned bool `msgpack:"abandoned,omitempty"`
}

// errBusy: the receiver is at its concurrency limit.
var errBusy = errors.New("riakgo/handoff: receiver at its concurrency limit")

// errUnknown: the receiver does not know the transfer (it restarted, or
// timed the transfer out); the sender begins again.
var errUnknown = errors.New("riakgo/handoff: unknown transfer")

const codeUnknown = transport.CodeApp + 40

func (m *Manager) handleBegin(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req beginReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := inKey{from, req.ID}
	if i, ok := m.in[k]; ok && i.pr.Partition == req.Partition {
		i.lastSeen = now // a resumed transfer keeps its slot
		i.pr.Attempt++
		return beginResp{}, nil
	}
	if m.closed || m.slotsUsed() >= m.cfg.Concurrency {
		m.totals.Refused++
		return beginResp{Busy: true}, nil
	}
	m.in[k] = &inbound{lastSeen: now, pr: Progress{ID: req.ID, Kind: req.Kind.String(), Partition: req.Partition,
		From: from, To: m.cfg.Self, Direction: Inbound, Started: now, Updated: now}}
	if req.Kind == Repair {
		m.in[k].pr.Source = req.Source
	}
	m.cfg.Metrics.ActiveTransfers(string(Inbound), len(m.in))
	return beginResp{}, nil
}

func (m *Manager) handleBatch(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req batchReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	k := inKey{from, req.ID}
	m.mu.Lock()
	i, ok := m.in[k]
	if ok && i.pr.Partition != req.Partition {
		ok = false
	}
	if ok {
		i.lastSeen = m.cfg.Clock.Now()
		i.busy++
	}
	m.mu.Unlock()
	if !ok {
		return nil, transport.Errorf(codeUnknown, "transfer %x of partition %d", req.ID, req.Partition)
	}
	err := m.cfg.Vnodes.Receive(req.Partition, req.Items)
	n := 0
	for _, it := range req.Items {
		n += len(it.Key) + len(it.Value)
	}
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	if i, ok := m.in[k]; ok {
		i.busy--
		i.lastSeen = now
	}
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if i, ok := m.in[k]; ok {
		i.pr.Updated = now
		i.pr.Objects += int64(len(req.Items))
		i.pr.Bytes += int64(n)
	}
	m.mu.Unlock()
	return struct{}{}, nil
}

func (m *Manager) handleEnd(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req endReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	m.mu.Lock()
	i, ok := m.in[inKey{from, req.ID}]
	if ok {
		delete(m.in, inKey{from, req.ID})
		m.log.Info("handoff received", "type", i.pr.Kind, "partition", i.pr.Partition, "from", from, "objects", i.pr.Objects, "bytes", i.pr.Bytes)
	}
	m.cfg.Metrics.ActiveTransfers(string(Inbound), len(m.in))
	m.mu.Unlock()
	if ok && !req.Abandoned && m.cfg.InboundDone != nil {
		j := Job{Partition: i.pr.Partition, To: m.cfg.Self, Source: i.pr.Source}
		switch i.pr.Kind {
		case Ownership.String():
			j.Kind = Ownership
		case Hinted.String():
			j.Kind = Hinted
		case Repair.String():
			j.Kind = Repair
		}
		m.cfg.InboundDone(j, from)
	}
	go m.startQueued()
	return struct{}{}, nil
}

// handleRepair queues a repair a peer asks this node to send.
func (m *Manager) handleRepair(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req repairReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	j := Job{Partition: req.Target, Kind: Repair, To: from, Source: req.Source}
	if _, ok := m.cfg.Vnodes.(RepairVnodes); !ok || m.cfg.AcceptRepair == nil {
		return repairResp{Refused: "this node does not send repairs"}, nil
	}
	if err := m.cfg.AcceptRepair(j); err != nil {
		return repairResp{Refused: err.Error()}, nil
	}
	m.mu.Lock()
	_, running := m.out[keyOf(j)]
	queued := slices.Contains(m.repairs, j)
	if !running && !queued {
		m.repairs = append(m.repairs, j)
	}
	m.mu.Unlock()
	go m.startQueued()
	return repairResp{}, nil
}

// RequestRepair asks node from to send this node the repair of partition
// target from its partition source. It returns an error if the request
// did not reach it or it refused; nil means queued (or already running).
func (m *Manager) RequestRepair(ctx context.Context, from ring.NodeID, target, source int) error {
	ctx, cancel := clock.WithTimeout(ctx, m.cfg.Clock, m.cfg.StallTimeout)
	defer cancel()
	var resp repairResp
	if err := m.cfg.Transport.Call(ctx, from, wire.MsgHandoffRepair, repairReq{Target: target, Source: source}, &resp); err != nil {
		return err
	}
	if resp.Refused != "" {
		return fmt.Errorf("riakgo/handoff: %s refused the repair of partition %d from partition %d: %s", from, target, source, resp.Refused)
	}
	return nil
}

func (m *Manager) handleStatus(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	return m.Status(), nil
}

// run is one outbound transfer: attempts with resume until it completes,
// the receiver is busy, or the retries run out.
func (m *Manager) run(k jobKey, o *outbound) {
	defer m.wg.Done()
	j := o.job
	m.mu.Lock()
	rp, resumed := m.resume[k]
	m.mu.Unlock()
	after := rp.after
	var err error
	for attempt := 0; ; attempt++ {
		m.mu.Lock()
		o.pr.Attempt = attempt
		m.mu.Unlock()
		err = m.attempt(o, &after, resumed || attempt > 0)
		if err == nil || errors.Is(err, errBusy) || m.base.Err() != nil || attempt >= m.cfg.Retries {
			break
		}
		if errors.Is(err, context.DeadlineExceeded) && m.cfg.Up != nil && !m.cfg.Up(j.To) {
			// No progress for the stall timeout and the membership
			// sees the peer down: do not spend more stall intervals on
			// it. The slot is freed now; a later scan resumes.
			break
		}
		m.log.Warn("handoff interrupted; resuming", "job", j.String(), "attempt", attempt+1, "err", err)
	}
	if err != nil && !errors.Is(err, errBusy) && m.base.Err() == nil {
		// Free the receiver's slot now rather than at its sweep (best
		// effort, in the background: it may be the receiver that is
		// gone, and this slot is freed without waiting for it).
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			ctx, cancel := clock.WithTimeout(m.base, m.cfg.Clock, m.cfg.StallTimeout)
			_ = m.cfg.Transport.Call(ctx, j.To, wire.MsgHandoffEnd, endReq{ID: o.pr.ID, Abandoned: true}, nil)
			cancel()
		}()
	}
	// Done runs while the transfer still holds its slot, so that a scan
	// running meanwhile sees it running or done, never neither (which
	// would start it again).
	if m.cfg.Done != nil {
		m.cfg.Done(j, err)
	}
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	delete(m.out, k)
	result := "ok"
	switch {
	case err == nil:
		delete(m.resume, k)
		m.totals.Completed++
	case errors.Is(err, errBusy):
		result = "refused"
		if after != nil {
			m.resume[k] = resumePoint{after: after, at: now}
		}
		if j.Kind == Repair && !slices.Contains(m.repairs, j) {
			m.repairs = append(m.repairs, j) // tried again at the next scan's Offer
		}
	default:
		result = "failed"
		m.totals.Failed++
		if after != nil {
			m.resume[k] = resumePoint{after: after, at: now}
		}
	}
	m.cfg.Metrics.ActiveTransfers(string(Outbound), len(m.out))
	pr := o.pr
	m.mu.Unlock()
	m.cfg.Metrics.TransferDone(j.Kind.String(), result)
	switch result {
	case "ok":
		m.log.Info("handoff complete", "job", j.String(), "objects", pr.Objects, "bytes", pr.Bytes, "seconds", now.Sub(pr.Started).Seconds())
	case "failed":
		m.log.Warn("handoff failed; it will be retried on a later scan", "job", j.String(), "objects", pr.Objects, "err", err)
	}
	if result != "refused" {
		m.startQueued()
	}
}

// call makes one protocol call bounded by the stall timeout.
func (m *Manager) call(to ring.NodeID, typ wire.MsgType, req, resp any) error {
	ctx, cancel := clock.WithTimeout(m.base, m.cfg.Clock, m.cfg.StallTimeout)
	defer cancel()
	err := m.cfg.Transport.Call(ctx, to, typ, req, resp)
	var re *transport.RemoteError
	if errors.As(err, &re) && re.Code == codeUnknown {
		return fmt.Errorf("%w: %v", errUnknown, err)
	}
	return err
}

// attempt runs the transfer once, from the key after *after; *after
// advances with every acknowledged batch.
func (m *Manager) attempt(o *outbound, after *[]byte, resume bool) error {
	j := o.job
	var br beginResp
	begin := beginReq{ID: o.pr.ID, Partition: j.Partition, Kind: j.Kind, Resume: resume}
	if j.Kind == Repair {
		begin.Source = j.Source
	}
	if err := m.call(j.To, wire.MsgHandoffBegin, begin, &br); err != nil {
		return err
	}
	if br.Busy {
		return errBusy
	}
	if j.Kind == Ownership && m.cfg.Planned != nil && !m.cfg.Planned(j) {
		return fmt.Errorf("riakgo/handoff: %s is no longer planned", j)
	}
	if err := m.cfg.Vnodes.Starting(j); err != nil {
		return err
	}
	var batch []Item
	size := 0
	// Up to Window batches are in flight; they are acknowledged (and the
	// resume point advances) in order.
	type flight struct {
		items []Item
		size  int
		done  chan error
	}
	var q []*flight
	ack := func() error {
		f := q[0]
		q = q[1:]
		if err := <-f.done; err != nil {
			return err
		}
		m.cfg.Vnodes.Sent(j, f.items)
		now := m.cfg.Clock.Now()
		m.mu.Lock()
		o.pr.Objects += int64(len(f.items))
		o.pr.Bytes += int64(f.size)
		o.pr.Updated = now
		m.totals.Objects += int64(len(f.items))
		m.totals.Bytes += int64(f.size)
		m.mu.Unlock()
		m.cfg.Metrics.TransferProgress(j.Kind.String(), len(f.items), f.size)
		*after = f.items[len(f.items)-1].Key
		return nil
	}
	// abandon waits for the batches still in flight after a failure and
	// acknowledges none of them: the resume point stays before the gap.
	abandon := func() {
		for _, f := range q {
			<-f.done
		}
		q = nil
	}
	drain := func() error {
		for len(q) > 0 {
			if err := ack(); err != nil {
				abandon()
				return err
			}
		}
		return nil
	}
	defer abandon()
	send := func() error {
		if len(batch) > 0 {
			f := &flight{items: batch, size: size, done: make(chan error, 1)}
			req := batchReq{ID: o.pr.ID, Partition: j.Partition, Items: batch}
			go func() { f.done <- m.call(j.To, wire.MsgHandoffBatch, req, nil) }()
			q = append(q, f)
			batch, size = nil, 0
		}
		for len(q) >= m.cfg.Window {
			if err := ack(); err != nil {
				abandon()
				return err
			}
		}
		return nil
	}
	add := func(key, value []byte) error {
		if len(batch) > 0 && (len(batch) >= m.cfg.BatchCount || size+len(key)+len(value) > m.cfg.BatchBytes) {
			if err := send(); err != nil {
				return err
			}
		}
		batch = append(batch, Item{Key: bytes.Clone(key), Value: bytes.Clone(value)})
		size += len(key) + len(value)
		return nil
	}
	var err error
	if j.Kind == Repair {
		err = m.cfg.Vnodes.(RepairVnodes).FoldRepair(m.base, j.Source, j.Partition, *after, add)
	} else {
		err = m.cfg.Vnodes.Fold(m.base, j.Partition, *after, add)
	}
	if err == nil {
		err = send()
	}
	if err == nil {
		err = drain()
	}
	if err != nil {
		return err
	}
	extra, err := m.cfg.Vnodes.Folded(j)
	if err != nil {
		return err
	}
	// The extra items are not in key order: whatever happens, a resume
	// refolds from the fold's position (and Folded returns them again).
	last := *after
	defer func() { *after = last }()
	for _, it := range extra {
		if err := add(it.Key, it.Value); err != nil {
			return err
		}
	}
	if err := send(); err != nil {
		return err
	}
	if err := drain(); err != nil {
		return err
	}
	return m.call(j.To, wire.MsgHandoffEnd, endReq{ID: o.pr.ID}, nil)
}
