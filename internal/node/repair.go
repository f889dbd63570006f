package node

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/ring"
)

// The node implements riakhttp.RepairAdmin: riak-admin's ringready and
// partition repair (riak_kv_vnode:repair/1).
var _ riakhttp.RepairAdmin = (*Node)(nil)

// ringOwnersResp is a member's answer to MsgRingOwners.
type ringOwnersResp struct {
	Owners string `msgpack:"o"`
}

// ownersDigest is a digest of the owner of every partition.
func ownersDigest(r *ring.Ring) string {
	h := sha1.New()
	for _, o := range r.Owners() {
		h.Write([]byte(o))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// registerRingOwners serves MsgRingOwners.
func (n *Node) registerRingOwners() {
	n.tr.Handle(wire.MsgRingOwners, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		return ringOwnersResp{Owners: ownersDigest(n.cl.State().Ring())}, nil
	})
}

// RingOwners implements riakhttp.RepairAdmin.
func (n *Node) RingOwners() riakhttp.RingOwnersJSON {
	return riakhttp.RingOwnersJSON{Node: string(n.Self()), Owners: ownersDigest(n.cl.State().Ring())}
}

// RingReady implements riakhttp.RepairAdmin, as riak_core_status:ringready:
// every member (joining, valid, leaving, exiting) must be up and answer
// with the same partition owners; riakgo also waits for pending ownership
// transfers, so that TRUE means the cluster has converged.
func (n *Node) RingReady(ctx context.Context) (riakhttp.RingReadyJSON, error) {
	st := n.cl.State()
	var members []ring.NodeID
	for _, m := range st.MembersWith(ring.StatusJoining, ring.StatusValid, ring.StatusLeaving, ring.StatusExiting) {
		members = append(members, m)
	}
	slices.Sort(members)
	owners := make([]string, len(members))
	ok := make([]bool, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		if m == n.Self() {
			owners[i], ok[i] = ownersDigest(st.Ring()), true
			continue
		}
		if !n.ml.Up(m) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := clock.WithTimeout(ctx, n.clk, 5*time.Second)
			defer cancel()
			var resp ringOwnersResp
			if err := n.tr.Call(cctx, m, wire.MsgRingOwners, struct{}{}, &resp); err == nil {
				owners[i], ok[i] = resp.Owners, true
			}
		}()
	}
	wg.Wait()
	out := riakhttp.RingReadyJSON{Nodes: []string{}}
	for i, m := range members {
		out.Nodes = append(out.Nodes, string(m))
		if !ok[i] {
			out.Down = append(out.Down, string(m))
		}
	}
	if len(out.Down) > 0 {
		return out, nil
	}
	for i := 1; i < len(members); i++ {
		if owners[i] != owners[0] {
			out.Differ = []string{string(members[0]), string(members[i])}
			return out, nil
		}
	}
	// riakgo's addition to Riak's check: the members agree, but owners
	// are about to change.
	if n := len(st.Transfers()); n > 0 {
		out.Pending = n
		return out, nil
	}
	out.Ready = true
	return out, nil
}

// Repair implements riakhttp.RepairAdmin: riak_kv_vnode:repair/1 for
// partition p on its owner (forwarded there), or for every partition this
// node owns (p < 0). As in Riak it refuses while ownership changes are
// pending and while a source partition's owner is down.
func (n *Node) Repair(ctx context.Context, p int, forwarded bool) (riakhttp.RepairJSON, error) {
	st := n.cl.State()
	r := st.Ring()
	if p >= r.Size() {
		return riakhttp.RepairJSON{}, &riakhttp.AdminError{Status: 400, Reason: "bad_partition",
			Msg: fmt.Sprintf("no partition %d (the ring has %d)", p, r.Size())}
	}
	if p >= 0 && r.Owner(p) != n.Self() {
		if forwarded {
			return riakhttp.RepairJSON{}, &riakhttp.AdminError{Status: 409, Reason: "not_owner", Msg: fmt.Sprintf("partition %d is owned by %s", p, r.Owner(p))}
		}
		if !n.ml.Up(r.Owner(p)) {
			return riakhttp.RepairJSON{}, &riakhttp.AdminError{Status: 409, Reason: "down", Msg: fmt.Sprintf("the owner of partition %d, %s, is down", p, r.Owner(p))}
		}
		resp, err := n.forwardAdmin(ctx, r.Owner(p), adminReq{Verb: "repair", Partition: p})
		if err != nil {
			return riakhttp.RepairJSON{}, err
		}
		var out riakhttp.RepairJSON
		if err := json.Unmarshal(resp.Repair, &out); err != nil {
			return out, fmt.Errorf("riakgo: repair answer from %s: %w", r.Owner(p), err)
		}
		return out, nil
	}
	if len(st.Transfers()) > 0 {
		return riakhttp.RepairJSON{}, &riakhttp.AdminError{Status: 409, Reason: "ownership_change_in_progress",
			Msg: "ownership changes are pending; repair when transfers are complete"}
	}
	var parts []int
	for q := 0; q < r.Size(); q++ {
		if (p < 0 || q == p) && r.Owner(q) == n.Self() {
			parts = append(parts, q)
		}
	}
	// Every source owner must be up (riak_core_vnode_manager's check_up).
	var down []string
	for _, q := range parts {
		for _, s := range handoff.RepairSources(r.Size(), q) {
			if o := r.Owner(s); o != n.Self() && !n.ml.Up(o) && !slices.Contains(down, string(o)) {
				down = append(down, string(o))
			}
		}
	}
	if len(down) > 0 {
		slices.Sort(down)
		return riakhttp.RepairJSON{}, &riakhttp.AdminError{Status: 409, Reason: "down", Msg: fmt.Sprintf("%v down", down)}
	}
	out := riakhttp.RepairJSON{Repairs: []riakhttp.RepairStartJSON{}}
	for _, q := range parts {
		srcs, err := n.cl.drv.Repair(q, r)
		if errors.Is(err, handoff.ErrRepairNotOwner) {
			continue
		}
		if err != nil {
			return out, err
		}
		out.Repairs = append(out.Repairs, riakhttp.RepairStartJSON{Partition: q, Index: r.Index(q).String(), Owner: string(n.Self()),
			Sources: riakhttp.RepairSourcesJSON(srcs)})
	}
	n.cl.persist()
	return out, nil
}
