package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riakgo/riakgo/ring"
)

// Cluster admin routes back `riakgo admin cluster …`, `member-status` and
// `ring-status`:
//
//	GET  /admin/transfers         every member's active transfers and waiting partitions
//	POST /admin/down              body {"node":"name"}: mark an unreachable member down
//	GET  /admin/aae-status        this node's anti-entropy counters and trees awaiting a build
//	POST /admin/aae-rebuild[?partition=P]  rebuild this node's trees (all, or one partition's)
//	POST /admin/cluster/join      body {"seed":"host:port"} (a member's gossip address or node name)
//	POST /admin/cluster/leave     body {"node":"name"} or empty (this node)
//	POST /admin/cluster/force-remove   body {"node":"name"}
//	POST /admin/cluster/replace        body {"node":"name","target":"name"} (and force-replace)
//	POST /admin/cluster/clear
//	GET  /admin/cluster/plan      run on the claimant (forwarded if needed)
//	POST /admin/cluster/commit    run on the claimant (forwarded if needed)
//	GET  /admin/member-status
//	GET  /admin/ring-status
//
// Request and answer bodies are the exported *Request and *JSON types
// below, which cmd/riakgo decodes too; failures carry {"error": "...",
// "reason": "..."} where reason is a stable word the CLI maps to
// riak-admin's messages.

// ClusterAdmin is the node's cluster control, implemented by the node
// wiring and passed in Options. Methods are safe for concurrent use.
type ClusterAdmin interface {
	// Self returns this node's name.
	Self() ring.NodeID
	// ClusterState returns the current cluster state (an immutable value).
	ClusterState() ring.State
	// NodeUp reports whether a member is alive and serving.
	NodeUp(ring.NodeID) bool
	// ClusterJoin joins the cluster of the member at seed (its gossip
	// address) as a joining node.
	ClusterJoin(ctx context.Context, seed string) error
	// ClusterLeave stages a leave of node (this node if empty).
	ClusterLeave(ctx context.Context, node ring.NodeID) error
	// ClusterStage stages force-remove (node), replace or force-replace
	// (node by target).
	ClusterStage(ctx context.Context, action string, node, target ring.NodeID) error
	// ClusterClear discards the staged changes.
	ClusterClear(ctx context.Context) error
	// ClusterPlan and ClusterCommit run on the claimant: a node that is
	// not the claimant forwards them to it, unless forwarded is set
	// (the request already came from another node).
	// A plan waits (bounded) until the claimant has seen the changes the
	// asking node had seen (seen: that node's state clock, base64url; ""
	// for none) and the cluster has converged.
	ClusterPlan(ctx context.Context, forwarded bool, seen string) (PlanJSON, error)
	ClusterCommit(ctx context.Context, forwarded bool) error
	// ClusterTransfers gathers every member's handoff status.
	ClusterTransfers(ctx context.Context) (TransfersJSON, error)
	// ClusterDown marks an unreachable member down (riak-admin down), so
	// that plans can be committed without it.
	ClusterDown(ctx context.Context, node ring.NodeID) error
	// AAEStatus is this node's anti-entropy status.
	AAEStatus() AAEJSON
	// AAERebuild has this node rebuild the anti-entropy trees of one
	// partition (-1: all of them) from storage; it returns how many.
	AAERebuild(partition int) (int, error)
}

// AAEJSON is the answer of GET /admin/aae-status.
type AAEJSON struct {
	Node    ring.NodeID   `json:"node"`
	Status  AAEStatusJSON `json:"status"`
	Unbuilt []int         `json:"unbuilt"`
}

// AAEStatusJSON is a node's anti-entropy counters.
type AAEStatusJSON struct {
	Exchanges    int64     `json:"exchanges"`
	InSync       int64     `json:"in_sync"`
	Failed       int64     `json:"failed"`
	KeysRepaired int64     `json:"keys_repaired"`
	TreesBuilt   int64     `json:"trees_built"`
	LastExchange time.Time `json:"last_exchange"`
}

// TransfersJSON is the answer of GET /admin/transfers: each reachable
// member's transfers, the members that are down and those that did not
// answer.
type TransfersJSON struct {
	Now         time.Time            `json:"now"`
	Down        []ring.NodeID        `json:"down"`
	Unreachable []ring.NodeID        `json:"unreachable"`
	Nodes       []TransferStatusJSON `json:"nodes"`
}

// TransferStatusJSON is one member's handoff status.
type TransferStatusJSON struct {
	Node        ring.NodeID `json:"node"`
	Concurrency int         `json:"concurrency"`
	// Waiting counts the partitions the member holds that it should hand
	// off (riak-admin's "waiting to handoff N partitions").
	Waiting int `json:"waiting"`
	// Repairing counts the member's partitions under repair that still
	// wait for data from a neighbour (riakgo's addition).
	Repairing int            `json:"repairing"`
	Active    []ProgressJSON `json:"active"`
	// Totals since the member started.
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Refused   int64 `json:"refused"`
	TimedOut  int64 `json:"timed_out"`
	Objects   int64 `json:"objects"`
	Bytes     int64 `json:"bytes"`
}

// Transfer directions (ProgressJSON.Direction).
const (
	Outbound = "outbound"
	Inbound  = "inbound"
)

// ProgressJSON is one active transfer as seen by one side.
type ProgressJSON struct {
	ID        uint64 `json:"id"`
	Kind      string `json:"type"` // ownership, hinted, repair
	Partition int    `json:"partition"`
	// Source is, for a repair, the partition the data comes from.
	Source    int         `json:"source,omitempty"`
	From      ring.NodeID `json:"from"`
	To        ring.NodeID `json:"to"`
	Direction string      `json:"direction"` // Outbound or Inbound
	Started   time.Time   `json:"started"`
	Updated   time.Time   `json:"last_update"`
	Objects   int64       `json:"objects"`
	Bytes     int64       `json:"bytes"`
	// SizeBytes is the sender's estimate of the partition's size (0 if
	// unknown, e.g. on the inbound side).
	SizeBytes int64 `json:"size_bytes"`
	Attempt   int   `json:"attempt"`
}

// ForwardedHeader marks an admin request forwarded by another node.
const ForwardedHeader = "X-Riakgo-Forwarded"

// AdminError is a cluster admin failure with its HTTP status and reason
// word (for errors the ring sentinels do not describe, such as an
// unreachable seed or a forwarded failure).
type AdminError struct {
	Status int
	Reason string
	Msg    string
}

func (e *AdminError) Error() string { return e.Msg }

// MemberJSON is one member-status row.
type MemberJSON struct {
	Node       string  `json:"node"`
	Status     string  `json:"status"`
	RingPct    float64 `json:"ring_pct"`
	PendingPct float64 `json:"pending_pct"`
	Claimant   bool    `json:"claimant,omitempty"`
}

// MoveJSON counts partitions moving from one node to another.
type MoveJSON struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// ChangeJSON is one staged change.
type ChangeJSON struct {
	Node   string `json:"node"`
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
}

// TransitionJSON is one planned transition.
type TransitionJSON struct {
	Members      []MemberJSON `json:"members"`
	Reassigned   []MoveJSON   `json:"reassigned"`
	Transfers    []MoveJSON   `json:"transfers"`
	MeetsTargetN bool         `json:"meets_target_n"`
}

// PlanJSON is "cluster plan".
type PlanJSON struct {
	Changes     []ChangeJSON     `json:"changes"`
	Transitions []TransitionJSON `json:"transitions"`
}

func membersJSON(rows []ring.MemberStatus) []MemberJSON {
	out := make([]MemberJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, MemberJSON{Node: string(r.Node), Status: r.Status.String(), RingPct: r.RingPct, PendingPct: r.PendingPct, Claimant: r.Claimant})
	}
	return out
}

func movesJSON(ms []ring.Move) []MoveJSON {
	out := make([]MoveJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, MoveJSON{From: string(m.From), To: string(m.To), Count: m.Count})
	}
	return out
}

// PlanToJSON converts a plan for the plan route.
func PlanToJSON(p ring.Plan) PlanJSON {
	out := PlanJSON{Changes: []ChangeJSON{}, Transitions: []TransitionJSON{}}
	for _, c := range p.Changes {
		out.Changes = append(out.Changes, ChangeJSON{Node: string(c.Node), Action: c.Action.String(), Target: string(c.Target)})
	}
	for _, t := range p.Transitions {
		out.Transitions = append(out.Transitions, TransitionJSON{
			Members: membersJSON(t.Members), Reassigned: movesJSON(t.Reassigned),
			Transfers: movesJSON(t.Transfers), MeetsTargetN: t.MeetsTargetN,
		})
	}
	return out
}

// AdminErrorOf maps a cluster admin error to its status and reason
// word: an *AdminError as it is, the ring's sentinels to their statuses,
// anything else to 500 "error".
func AdminErrorOf(err error) *AdminError {
	var ae *AdminError
	if errors.As(err, &ae) {
		return ae
	}
	for _, m := range []struct {
		err    error
		status int
		reason string
	}{
		{ring.ErrNotReady, 409, "ring_not_ready"},
		{ring.ErrNothingPlanned, 409, "nothing_planned"},
		{ring.ErrPlanChanged, 409, "plan_changed"},
		{ring.ErrNotClaimant, 409, "not_claimant"},
		{ring.ErrAlreadyMember, 409, "already_member"},
		{ring.ErrNotSingleNode, 409, "not_single_node"},
		{ring.ErrSizeMismatch, 409, "different_ring_size"},
		{ring.ErrNotMember, 404, "not_member"},
		{ring.ErrOnlyMember, 409, "only_member"},
		{ring.ErrAlreadyLeaving, 409, "already_leaving"},
		{ring.ErrIsClaimant, 409, "is_claimant"},
		{ring.ErrSelfJoin, 400, "self_join"}, // before ErrBadChange, which it wraps
		{ring.ErrBadChange, 400, "invalid"},
	} {
		if errors.Is(err, m.err) {
			return &AdminError{Status: m.status, Reason: m.reason, Msg: err.Error()}
		}
	}
	return &AdminError{Status: 500, Reason: "error", Msg: err.Error()}
}

// clusterError answers a cluster admin error.
func clusterError(w nethttp.ResponseWriter, err error) {
	ae := AdminErrorOf(err)
	writeJSON(w, ae.Status, map[string]string{"error": ae.Msg, "reason": ae.Reason})
}

// readJSONBody decodes an optional JSON object body into v.
func readJSONBody(w nethttp.ResponseWriter, r *nethttp.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		jsonError(w, 400, "could not read the request body: "+err.Error())
		return false
	}
	if strings.TrimSpace(string(body)) == "" {
		return true
	}
	if err := json.Unmarshal(body, v); err != nil {
		jsonError(w, 400, "invalid json: "+err.Error())
		return false
	}
	return true
}

// JoinRequest is the body of POST /admin/cluster/join: Seed is a
// member's gossip address or node name.
type JoinRequest struct {
	Seed string `json:"seed"`
}

// NodeRequest is the body of POST /admin/down and /admin/cluster/leave
// (Node; empty for a leave of this node), and of force-remove, replace
// and force-replace (Node, and Target for a replacement).
type NodeRequest struct {
	Node   string `json:"node"`
	Target string `json:"target,omitempty"`
}

// MemberStatusJSON is the answer of GET /admin/member-status (its fields
// in the order the answer always had).
type MemberStatusJSON struct {
	// Counts is the number of members in each status.
	Counts  map[string]int `json:"counts"`
	Members []MemberJSON   `json:"members"`
	// Pending says whether a transition is under way (the Pending
	// column of riak-admin member-status).
	Pending bool `json:"pending"`
}

// clusterRoute is one cluster admin route: the methods it allows and
// what serves it.
type clusterRoute struct {
	methods []string
	serve   func(h *Handler, w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin)
}

// clusterRoutes maps the path under /admin to its route.
var clusterRoutes = map[string]clusterRoute{
	"member-status":         {[]string{"GET", "HEAD"}, (*Handler).serveMemberStatus},
	"transfers":             {[]string{"GET", "HEAD"}, (*Handler).serveTransfers},
	"down":                  {[]string{"POST"}, (*Handler).serveDown},
	"aae-status":            {[]string{"GET", "HEAD"}, (*Handler).serveAAEStatus},
	"aae-rebuild":           {[]string{"POST"}, (*Handler).serveAAERebuild},
	"ring-status":           {[]string{"GET", "HEAD"}, (*Handler).serveRingStatus},
	"cluster/join":          {[]string{"POST"}, (*Handler).serveClusterJoin},
	"cluster/leave":         {[]string{"POST"}, (*Handler).serveClusterLeave},
	"cluster/force-remove":  {[]string{"POST"}, stageRoute("force-remove")},
	"cluster/replace":       {[]string{"POST"}, stageRoute("replace")},
	"cluster/force-replace": {[]string{"POST"}, stageRoute("force-replace")},
	"cluster/clear":         {[]string{"POST"}, (*Handler).serveClusterClear},
	"cluster/plan":          {[]string{"GET", "HEAD"}, (*Handler).serveClusterPlan},
	"cluster/commit":        {[]string{"POST"}, (*Handler).serveClusterCommit},
}

func (h *Handler) serveCluster(w nethttp.ResponseWriter, r *nethttp.Request, rest []string) {
	ca := h.o.Cluster
	if ca == nil {
		jsonError(w, 501, "clustering is not enabled on this node")
		return
	}
	rt, ok := clusterRoutes[strings.Join(rest, "/")]
	if !ok {
		notFound(w)
		return
	}
	if !allow(w, r, rt.methods...) {
		return
	}
	rt.serve(h, w, r, ca)
}

// forwarded reports whether another node forwarded the request.
func forwarded(r *nethttp.Request) bool { return r.Header.Get(ForwardedHeader) != "" }

func (h *Handler) serveMemberStatus(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	st := ca.ClusterState()
	rows, pending := st.MemberStatus()
	counts := map[string]int{}
	for s, n := range st.StatusCounts() {
		counts[s.String()] = n
	}
	writeJSON(w, 200, MemberStatusJSON{Members: membersJSON(rows), Pending: pending, Counts: counts})
}

func (h *Handler) serveTransfers(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	tj, err := ca.ClusterTransfers(r.Context())
	if err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, tj)
}

func (h *Handler) serveDown(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	var body NodeRequest
	if !readJSONBody(w, r, &body) {
		return
	}
	if body.Node == "" {
		jsonError(w, 400, "node is required")
		return
	}
	if err := ca.ClusterDown(r.Context(), ring.NodeID(body.Node)); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{"node": body.Node})
}

func (h *Handler) serveAAEStatus(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	writeJSON(w, 200, ca.AAEStatus())
}

func (h *Handler) serveAAERebuild(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	p := -1
	if v := r.URL.Query().Get("partition"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			jsonError(w, 400, "partition must be a partition number (0 .. ring size - 1)")
			return
		}
		p = n
	}
	n, err := ca.AAERebuild(p)
	if err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, map[string]int{"partitions": n})
}

func (h *Handler) serveClusterJoin(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	var body JoinRequest
	if !readJSONBody(w, r, &body) {
		return
	}
	if body.Seed == "" {
		jsonError(w, 400, "seed is required")
		return
	}
	if err := ca.ClusterJoin(r.Context(), body.Seed); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{"node": string(ca.Self()), "seed": body.Seed})
}

func (h *Handler) serveClusterLeave(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	var body NodeRequest
	if !readJSONBody(w, r, &body) {
		return
	}
	node := ring.NodeID(body.Node)
	if node == "" {
		node = ca.Self()
	}
	if err := ca.ClusterLeave(r.Context(), node); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{"node": string(node)})
}

// stageRoute serves force-remove (node), replace and force-replace (node
// by target).
func stageRoute(action string) func(*Handler, nethttp.ResponseWriter, *nethttp.Request, ClusterAdmin) {
	return func(h *Handler, w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
		var body NodeRequest
		if !readJSONBody(w, r, &body) {
			return
		}
		if body.Node == "" || (action != "force-remove") != (body.Target != "") {
			jsonError(w, 400, "give node, and target for a replacement")
			return
		}
		if err := ca.ClusterStage(r.Context(), action, ring.NodeID(body.Node), ring.NodeID(body.Target)); err != nil {
			clusterError(w, err)
			return
		}
		writeJSON(w, 200, map[string]string{"node": body.Node, "target": body.Target})
	}
}

func (h *Handler) serveClusterClear(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	if err := ca.ClusterClear(r.Context()); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{})
}

func (h *Handler) serveClusterPlan(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	p, err := ca.ClusterPlan(r.Context(), forwarded(r), r.URL.Query().Get("seen"))
	if err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, p)
}

func (h *Handler) serveClusterCommit(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	if err := ca.ClusterCommit(r.Context(), forwarded(r)); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{})
}

// RingStatusJSON is ring-status.
type RingStatusJSON struct {
	Claimant       string        `json:"claimant"`
	ClaimantStatus string        `json:"claimant_status"`
	ClaimantUp     bool          `json:"claimant_up"`
	Ready          bool          `json:"ready"`
	Handoffs       []HandoffJSON `json:"handoffs"`
	Down           []string      `json:"down"`
	Unreachable    []string      `json:"unreachable"`
}

// HandoffJSON is one (owner, next owner) group of pending transfers.
type HandoffJSON struct {
	Owner     string         `json:"owner"`
	NextOwner string         `json:"next_owner"`
	Transfers []TransferJSON `json:"transfers"`
}

// TransferJSON is one pending transfer.
type TransferJSON struct {
	Partition int    `json:"partition"`
	Index     string `json:"index"`
	Complete  bool   `json:"complete"`
}

func (h *Handler) serveRingStatus(w nethttp.ResponseWriter, r *nethttp.Request, ca ClusterAdmin) {
	st := ca.ClusterState()
	rs := st.RingStatus()
	out := RingStatusJSON{
		Claimant: string(rs.Claimant), ClaimantStatus: rs.ClaimantStatus.String(), ClaimantUp: ca.NodeUp(rs.Claimant),
		Ready: rs.Ready, Handoffs: []HandoffJSON{}, Down: []string{}, Unreachable: []string{},
	}
	rg := st.Ring()
	for _, ho := range rs.Handoffs {
		hj := HandoffJSON{Owner: string(ho.Owner), NextOwner: string(ho.NextOwner)}
		for _, t := range ho.Transfers {
			hj.Transfers = append(hj.Transfers, TransferJSON{Partition: t.Partition, Index: rg.Index(t.Partition).String(), Complete: t.Complete})
		}
		out.Handoffs = append(out.Handoffs, hj)
	}
	for _, n := range rs.Down {
		out.Down = append(out.Down, string(n))
	}
	for _, m := range st.Members() {
		switch m.Status {
		case ring.StatusValid, ring.StatusLeaving, ring.StatusExiting, ring.StatusJoining:
			if m.Node != ca.Self() && !ca.NodeUp(m.Node) {
				out.Unreachable = append(out.Unreachable, string(m.Node))
			}
		}
	}
	writeJSON(w, 200, out)
}
