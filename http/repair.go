package http

import (
	"context"
	nethttp "net/http"
	"strconv"

	"github.com/riakgo/riakgo/ring"
)

// Convergence and partition repair routes, served when Options.Cluster
// also implements RepairAdmin:
//
//	GET  /admin/ringready            do all members agree on the ring (riak-admin ringready)
//	GET  /admin/ring-owners          this node's view of the partition owners (ringready asks each member)
//	POST /admin/repair[?partition=P] repair one partition (on its owner; forwarded) or all of this node's

// RepairAdmin is the node's ringready and partition-repair control.
// Methods are safe for concurrent use.
type RepairAdmin interface {
	// RingReady asks every member for its partition owners.
	RingReady(ctx context.Context) (RingReadyJSON, error)
	// RingOwners is this node's view of the owners.
	RingOwners() RingOwnersJSON
	// Repair starts the repair of partition p (-1: every partition this
	// node owns). A node that does not own p forwards the request to
	// the owner unless forwarded is set.
	Repair(ctx context.Context, p int, forwarded bool) (RepairJSON, error)
}

// RingReadyJSON is ringready's answer: Ready, with every member; or not,
// with the members that are down, the first two that disagree, or the
// number of partitions whose ownership transfer is still pending.
type RingReadyJSON struct {
	Ready   bool     `json:"ready"`
	Nodes   []string `json:"nodes"`
	Down    []string `json:"down,omitempty"`
	Differ  []string `json:"differ,omitempty"`
	Pending int      `json:"pending,omitempty"`
}

// RingOwnersJSON is a member's view of the ring.
type RingOwnersJSON struct {
	Node string `json:"node"`
	// Owners is a digest of the owner of every partition.
	Owners string `json:"owners"`
}

// RepairJSON lists the repairs started.
type RepairJSON struct {
	Repairs []RepairStartJSON `json:"repairs"`
}

// RepairStartJSON is one partition's repair: its owner and the
// partitions (and their owners) its data comes from.
type RepairStartJSON struct {
	Partition int            `json:"partition"`
	Index     string         `json:"index"`
	Owner     string         `json:"owner"`
	Sources   []RepairSource `json:"sources"`
}

// RepairSource is one partition a repair pulls from.
type RepairSource struct {
	Partition int    `json:"partition"`
	Node      string `json:"node"`
}

// RepairSourcesJSON converts ring targets.
func RepairSourcesJSON(ts []ring.Target) []RepairSource {
	out := make([]RepairSource, 0, len(ts))
	for _, t := range ts {
		out = append(out, RepairSource{Partition: t.Partition, Node: string(t.Node)})
	}
	return out
}

// isRepairRoute reports whether an /admin route is one of this file's.
func isRepairRoute(rest []string) bool {
	return len(rest) == 1 && (rest[0] == "ringready" || rest[0] == "ring-owners" || rest[0] == "repair")
}

func (h *Handler) serveRepair(w nethttp.ResponseWriter, r *nethttp.Request, rest []string) {
	ra, ok := h.o.Cluster.(RepairAdmin)
	if !ok {
		jsonError(w, 501, "clustering is not enabled on this node")
		return
	}
	switch rest[0] {
	case "ringready":
		if !allow(w, r, "GET", "HEAD") {
			return
		}
		out, err := ra.RingReady(r.Context())
		if err != nil {
			clusterError(w, err)
			return
		}
		writeJSON(w, 200, out)
	case "ring-owners":
		if !allow(w, r, "GET", "HEAD") {
			return
		}
		writeJSON(w, 200, ra.RingOwners())
	case "repair":
		if !allow(w, r, "POST") {
			return
		}
		p := -1
		if v := r.URL.Query().Get("partition"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				jsonError(w, 400, "partition must be a partition number (0 .. ring size - 1)")
				return
			}
			p = n
		}
		out, err := ra.Repair(r.Context(), p, r.Header.Get(ForwardedHeader) != "")
		if err != nil {
			clusterError(w, err)
			return
		}
		writeJSON(w, 200, out)
	}
}
