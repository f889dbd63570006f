package node

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/metrics"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/vclock"
)

// The node implements riakhttp.ClusterAdmin.
var _ riakhttp.ClusterAdmin = (*Node)(nil)

// Self implements riakhttp.ClusterAdmin.
func (n *Node) Self() ring.NodeID { return ring.NodeID(n.cfg.Name) }

// ClusterState implements riakhttp.ClusterAdmin.
func (n *Node) ClusterState() ring.State { return n.cl.State() }

// NodeUp implements riakhttp.ClusterAdmin.
func (n *Node) NodeUp(id ring.NodeID) bool { return n.ml.Up(id) }

func adminErr(err error) error {
	switch {
	case errors.Is(err, ErrUnreachable):
		return &riakhttp.AdminError{Status: 502, Reason: "unreachable", Msg: err.Error()}
	case errors.Is(err, ErrNoSeedRing):
		return &riakhttp.AdminError{Status: 502, Reason: "no_seed_ring", Msg: err.Error()}
	case errors.Is(err, ErrForward):
		return &riakhttp.AdminError{Status: 502, Reason: "claimant_unreachable", Msg: err.Error()}
	}
	return err
}

// ClusterJoin implements riakhttp.ClusterAdmin. A join only talks
// gossip to the seed (memberlist, under the cluster's keys), and a failure
// tells the caller nothing about what answered there, or whether anything
// did: the details go to the node's log.
func (n *Node) ClusterJoin(ctx context.Context, seed string) error {
	err := n.cl.Join(ctx, seed)
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNoSeedRing) {
		n.log.Warn("cluster join failed", "seed", seed, "err", err)
		return &riakhttp.AdminError{Status: 502, Reason: "unreachable",
			Msg: fmt.Sprintf("no member of this cluster answered at %s (down, wrong address, or another cluster secret)", seed)}
	}
	return adminErr(err)
}

// ClusterLeave implements riakhttp.ClusterAdmin.
func (n *Node) ClusterLeave(ctx context.Context, node ring.NodeID) error {
	return n.cl.Leave(ctx, node)
}

// ClusterStage implements riakhttp.ClusterAdmin.
func (n *Node) ClusterStage(ctx context.Context, action string, node, target ring.NodeID) error {
	return n.cl.Stage(ctx, action, node, target)
}

// ClusterClear implements riakhttp.ClusterAdmin.
func (n *Node) ClusterClear(ctx context.Context) error { return n.cl.Clear(ctx) }

// ClusterPlan implements riakhttp.ClusterAdmin: the claimant's plan, once
// the claimant has seen what this node has (seen: the asking node's state
// clock, when forwarded) and the cluster has converged.
func (n *Node) ClusterPlan(ctx context.Context, forwarded bool, seen string) (riakhttp.PlanJSON, error) {
	claimant := n.cl.State().Claimant()
	if claimant == n.Self() || forwarded {
		var want vclock.VClock
		if seen != "" {
			raw, err := base64.RawURLEncoding.DecodeString(seen)
			if err == nil {
				err = want.UnmarshalBinary(raw)
			}
			if err != nil {
				return riakhttp.PlanJSON{}, &riakhttp.AdminError{Status: 400, Reason: "bad_request", Msg: "invalid seen clock"}
			}
		}
		p, err := n.cl.Plan(ctx, want)
		if err != nil {
			return riakhttp.PlanJSON{}, err
		}
		return riakhttp.PlanToJSON(p), nil
	}
	mine := base64.RawURLEncoding.EncodeToString(n.cl.State().Clock().AppendBinary(nil))
	resp, err := n.forwardAdmin(ctx, claimant, adminReq{Verb: "plan", Seen: mine})
	if err != nil {
		return riakhttp.PlanJSON{}, err
	}
	var out riakhttp.PlanJSON
	if err := json.Unmarshal(resp.Plan, &out); err != nil {
		return out, fmt.Errorf("%w: %v", ErrForward, err)
	}
	return out, nil
}

// ClusterCommit implements riakhttp.ClusterAdmin: commit on the claimant.
func (n *Node) ClusterCommit(ctx context.Context, forwarded bool) error {
	claimant := n.cl.State().Claimant()
	if claimant == n.Self() || forwarded {
		return n.cl.Commit()
	}
	_, err := n.forwardAdmin(ctx, claimant, adminReq{Verb: "commit"})
	return err
}

// adminReq is the body of MsgClusterAdmin: a plan or commit forwarded to
// the claimant over the internode transport (authenticated like every
// internode message, unlike an HTTP call to the claimant's admin routes).
type adminReq struct {
	Verb string `msgpack:"v"`
	Seen string `msgpack:"s,omitempty"`
	// Partition is the partition of a forwarded repair.
	Partition int `msgpack:"p,omitempty"`
}

// adminResp answers it: the plan (JSON), or the failure as the admin
// routes report it.
type adminResp struct {
	Status int    `msgpack:"st,omitempty"`
	Reason string `msgpack:"r,omitempty"`
	Msg    string `msgpack:"m,omitempty"`
	Plan   []byte `msgpack:"p,omitempty"`
	// Repair is a forwarded repair's answer (JSON).
	Repair []byte `msgpack:"rp,omitempty"`
}

func (n *Node) forwardAdmin(ctx context.Context, claimant ring.NodeID, req adminReq) (adminResp, error) {
	var resp adminResp
	if err := n.tr.Call(ctx, claimant, wire.MsgClusterAdmin, &req, &resp); err != nil {
		return resp, &riakhttp.AdminError{Status: 502, Reason: "claimant_unreachable",
			Msg: fmt.Sprintf("%v: %s: %v", ErrForward, claimant, err)}
	}
	if resp.Status != 0 {
		return resp, &riakhttp.AdminError{Status: resp.Status, Reason: resp.Reason, Msg: resp.Msg}
	}
	return resp, nil
}

// handleAdmin serves MsgClusterAdmin on the claimant (plan, commit), or on
// a partition's owner (repair).
func (n *Node) handleAdmin(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req adminReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	var resp adminResp
	var err error
	switch req.Verb {
	case "plan":
		var p riakhttp.PlanJSON
		if p, err = n.ClusterPlan(ctx, true, req.Seen); err == nil {
			resp.Plan, err = json.Marshal(p)
		}
	case "commit":
		err = n.ClusterCommit(ctx, true)
	case "repair":
		var r riakhttp.RepairJSON
		if r, err = n.Repair(ctx, req.Partition, true); err == nil {
			resp.Repair, err = json.Marshal(r)
		}
	default:
		err = &riakhttp.AdminError{Status: 400, Reason: "bad_request", Msg: "unknown admin verb " + req.Verb}
	}
	if err != nil {
		ae := riakhttp.AdminErrorOf(err)
		resp = adminResp{Status: ae.Status, Reason: ae.Reason, Msg: ae.Msg}
	}
	return resp, nil
}

// ClusterTransfers implements riakhttp.ClusterAdmin: every member's
// handoff status.
func (n *Node) ClusterTransfers(ctx context.Context) (riakhttp.TransfersJSON, error) {
	st := n.cl.State()
	out := riakhttp.TransfersJSON{Now: n.clk.Now()}
	var up []ring.NodeID
	for _, m := range st.Members() {
		if m.Status == ring.StatusInvalid {
			continue
		}
		if m.Node == n.Self() || n.ml.Up(m.Node) {
			up = append(up, m.Node)
		} else {
			out.Down = append(out.Down, m.Node)
		}
	}
	var sts []handoff.Status
	sts, out.Unreachable = n.mgr.ClusterStatus(ctx, up)
	for _, st := range sts {
		out.Nodes = append(out.Nodes, transferStatusJSON(st))
	}
	return out, nil
}

// transferStatusJSON is a member's handoff status (the internode body) as
// the admin routes show it.
func transferStatusJSON(st handoff.Status) riakhttp.TransferStatusJSON {
	out := riakhttp.TransferStatusJSON{
		Node: st.Node, Concurrency: st.Concurrency, Waiting: st.Waiting, Repairing: st.Repairing,
		Completed: st.Completed, Failed: st.Failed, Refused: st.Refused, TimedOut: st.TimedOut, Objects: st.Objects, Bytes: st.Bytes,
	}
	for _, p := range st.Active {
		out.Active = append(out.Active, riakhttp.ProgressJSON{
			ID: p.ID, Kind: p.Kind, Partition: p.Partition, Source: p.Source, From: p.From, To: p.To, Direction: string(p.Direction),
			Started: p.Started, Updated: p.Updated, Objects: p.Objects, Bytes: p.Bytes, SizeBytes: p.SizeBytes, Attempt: p.Attempt,
		})
	}
	return out
}

// extraStats are the node's cluster, handoff and anti-entropy figures for
// /stats, from the live cluster state.
func (n *Node) extraStats() map[string]any {
	st := n.mgr.Status()
	in, out := 0, 0
	for _, p := range st.Active {
		if p.Direction == handoff.Inbound {
			in++
		} else {
			out++
		}
	}
	m := map[string]any{
		"handoff_timeouts":           st.TimedOut,
		"riakgo_handoff_completed":   st.Completed,
		"riakgo_handoff_failed":      st.Failed,
		"riakgo_handoff_refused":     st.Refused,
		"riakgo_handoff_objects":     st.Objects,
		"riakgo_handoff_bytes":       st.Bytes,
		"riakgo_handoff_inbound":     in,
		"riakgo_handoff_outbound":    out,
		"riakgo_handoff_waiting":     st.Waiting,
		"riakgo_handoff_concurrency": st.Concurrency,
	}
	as := n.aae.Status()
	m["riakgo_aae_exchanges"] = as.Exchanges
	m["riakgo_aae_in_sync"] = as.InSync
	m["riakgo_aae_failed"] = as.Failed
	m["riakgo_aae_keys_repaired"] = as.KeysRepaired
	m["riakgo_aae_trees_built"] = as.TreesBuilt

	m["riakgo_memory_budget_bytes"] = n.mem.Budget
	m["riakgo_block_cache_bytes"] = n.mem.BlockCache
	m["riakgo_memtable_bytes"] = n.mem.MemTable
	m["riakgo_object_cache_bytes"] = n.mem.ObjectCache
	m["riakgo_go_heap_limit_bytes"] = n.mem.GoHeapLimit

	ss := n.storageStats()
	m["riakgo_storage_disk_bytes"] = ss.DiskBytes
	m["riakgo_storage_compaction_debt_bytes"] = ss.CompactionDebtBytes
	m["riakgo_storage_compactions_in_progress"] = ss.CompactionsInProgress
	m["riakgo_storage_read_amplification"] = ss.ReadAmp
	m["riakgo_storage_l0_files"] = ss.L0Files
	m["riakgo_storage_memtable_used_bytes"] = ss.MemTableBytes
	m["riakgo_storage_block_cache_used_bytes"] = ss.BlockCacheBytes
	m["riakgo_storage_block_cache_hits"] = ss.BlockCacheHits
	m["riakgo_storage_block_cache_misses"] = ss.BlockCacheMisses
	m["riakgo_object_cache_used_bytes"] = ss.ObjectCacheBytes
	m["riakgo_object_cache_entries"] = ss.ObjectCacheEntries
	m["riakgo_object_cache_hits"] = ss.ObjectCacheHits
	m["riakgo_object_cache_misses"] = ss.ObjectCacheMisses
	m["riakgo_object_cache_encoded_used_bytes"] = ss.EncodedCacheBytes
	m["riakgo_object_cache_encoded_records"] = ss.EncodedCacheRecords
	m["riakgo_object_cache_encoded_hits"] = ss.EncodedCacheHits

	cs := n.clusterStats()
	m["ring_members"] = cs.Members
	m["connected_nodes"] = cs.Connected
	m["ring_num_partitions"] = cs.Partitions
	m["ring_ownership"] = riakOwnership(cs.Ownership)
	m["ring_creation_size"] = cs.Partitions
	m["riakgo_ring_claimant"] = string(n.cl.State().Claimant())
	return m
}

// riakOwnership formats partition counts as Riak's /stats does:
// "[{'riak@a',22},{'riak@b',21}]".
func riakOwnership(own map[string]int) string {
	nodes := make([]string, 0, len(own))
	for n := range own {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range nodes {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "{'%s',%d}", n, own[n])
	}
	b.WriteByte(']')
	return b.String()
}

// clusterStats is the cluster as this node sees it, for /stats and
// /metrics.
func (n *Node) clusterStats() metrics.ClusterStats {
	st := n.cl.State()
	self := n.Self()
	cs := metrics.ClusterStats{Partitions: st.Size(), Ownership: map[string]int{}}
	for _, m := range st.Members() {
		if m.Status == ring.StatusInvalid {
			continue
		}
		cs.Members = append(cs.Members, string(m.Node))
		if m.Node != self && n.ml.Up(m.Node) {
			cs.Connected = append(cs.Connected, string(m.Node))
		}
		if m.Node != self && !n.ml.Up(m.Node) {
			cs.Down++
		}
	}
	for _, o := range st.Owners() {
		cs.Ownership[string(o)]++
	}
	cs.PendingTransfers = len(st.Transfers())
	return cs
}

// AAEStatus implements riakhttp.ClusterAdmin.
func (n *Node) AAEStatus() riakhttp.AAEJSON {
	st := n.aae.Status()
	return riakhttp.AAEJSON{Node: n.Self(), Unbuilt: n.svc.Vnodes().Unbuilt(), Status: riakhttp.AAEStatusJSON{
		Exchanges: st.Exchanges, InSync: st.InSync, Failed: st.Failed, KeysRepaired: st.KeysRepaired, TreesBuilt: st.TreesBuilt, LastExchange: st.LastExchange,
	}}
}

// AAERebuild implements riakhttp.ClusterAdmin: the trees are rebuilt by
// the exchanger's next steps.
func (n *Node) AAERebuild(p int) (int, error) {
	if p >= n.svc.Ring().Size() {
		return 0, &riakhttp.AdminError{Status: 400, Reason: "bad_partition", Msg: fmt.Sprintf("no partition %d (the ring has %d)", p, n.svc.Ring().Size())}
	}
	count := 0
	for _, q := range n.svc.Partitions() {
		if p < 0 || q == p {
			n.svc.Vnodes().Rebuild(q)
			count++
		}
	}
	return count, nil
}

// ClusterDown implements riakhttp.ClusterAdmin: riak-admin down, for a
// member this node cannot reach.
func (n *Node) ClusterDown(ctx context.Context, node ring.NodeID) error {
	if node == n.Self() || n.ml.Up(node) {
		return &riakhttp.AdminError{Status: 409, Reason: "is_up", Msg: fmt.Sprintf("%s is up", node)}
	}
	return n.cl.update(func(st ring.State, now int64) (ring.State, error) { return st.MarkDown(n.Self(), node, now) })
}

// storageStats reads the storage engine's figures (when it is Pebble) and
// the object cache's.
func (n *Node) storageStats() metrics.StorageStats {
	var st metrics.StorageStats
	if ps, ok := n.eng.(interface{ Stats() pebblestore.Stats }); ok {
		e := ps.Stats()
		st = metrics.StorageStats{DiskBytes: e.DiskBytes, CompactionDebtBytes: e.CompactionDebtBytes,
			CompactionsInProgress: e.CompactionsInProgress, ReadAmp: e.ReadAmp, L0Files: e.L0Files,
			MemTableBytes: e.MemTableBytes, BlockCacheBytes: e.BlockCacheBytes,
			BlockCacheHits: e.BlockCacheHits, BlockCacheMisses: e.BlockCacheMisses}
	}
	oc := n.svc.CacheStats()
	st.ObjectCacheBytes, st.ObjectCacheEntries = oc.Bytes, oc.Entries
	st.ObjectCacheHits, st.ObjectCacheMisses = oc.Hits, oc.Misses
	st.EncodedCacheBytes, st.EncodedCacheRecords, st.EncodedCacheHits = oc.EncodedBytes, oc.EncodedRecords, oc.EncodedHits
	return st
}
