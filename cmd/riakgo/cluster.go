package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	riakhttp "github.com/riakgo/riakgo/http"
)

// riakgo admin cluster join|leave|plan|commit|clear, member-status and
// ring-status, with riak-admin's text layouts (riak_core_console).

const rule = "-------------------------------------------------------------------------------"

// banner centres title in a 79-column line of c, as riak-admin does.
func banner(title string, c byte) string {
	t := " " + title + " "
	left := (79 - len(t)) / 2
	right := 79 - len(t) - left
	if left < 0 {
		left, right = 0, 0
	}
	return strings.Repeat(string(c), left) + t + strings.Repeat(string(c), right)
}

type adminAnswer struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
	Node   string `json:"node"`
	Seed   string `json:"seed"`
}

// writeMembership prints a Membership table and the status counts line.
func writeMembership(w io.Writer, rows []riakhttp.MemberJSON, pending bool) {
	fmt.Fprintln(w, banner("Membership", '='))
	fmt.Fprintln(w, "Status     Ring    Pending    Node")
	fmt.Fprintln(w, rule)
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
		if pending {
			fmt.Fprintf(w, "%-9s %5.1f%%    %5.1f%%    '%s'\n", r.Status, r.RingPct, r.PendingPct, r.Node)
		} else {
			fmt.Fprintf(w, "%-9s %5.1f%%      --      '%s'\n", r.Status, r.RingPct, r.Node)
		}
	}
	fmt.Fprintln(w, rule)
	fmt.Fprintf(w, "Valid:%d / Leaving:%d / Exiting:%d / Joining:%d / Down:%d\n",
		counts["valid"], counts["leaving"], counts["exiting"], counts["joining"], counts["down"])
}

// clusterFailure prints riak-admin's message for a failed cluster command.
func clusterFailure(stderr io.Writer, verb, arg string, a adminAnswer, body []byte) int {
	msg := a.Error
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	switch a.Reason {
	case "unreachable":
		fmt.Fprintf(stderr, "Node %s is not reachable!\n", arg)
	case "no_seed_ring":
		fmt.Fprintf(stderr, "Failed: Unable to get ring from %s\n", arg)
	case "different_ring_size":
		fmt.Fprintf(stderr, "Failed: %s has a different ring_creation_size\n", arg)
	case "not_single_node", "already_member":
		fmt.Fprintln(stderr, "Failed: This node is already a member of a cluster")
	case "self_join":
		fmt.Fprintln(stderr, "Failed: This node cannot join itself in a cluster")
	case "already_leaving":
		fmt.Fprintf(stderr, "%s is already in the process of leaving the cluster.\n", arg)
	case "not_member":
		fmt.Fprintf(stderr, "Failed: %s is not a member of the cluster.\n", arg)
	case "only_member":
		fmt.Fprintf(stderr, "Failed: '%s' is the only member.\n", arg)
	case "ring_not_ready":
		fmt.Fprintf(stderr, "Cannot %s until cluster state has converged.\nCheck 'Ring Ready' in 'riakgo admin ring-status'\n", verb)
	case "nothing_planned":
		if verb == "commit" {
			fmt.Fprintln(stderr, "You must verify the plan with 'riakgo admin cluster plan' before committing")
		} else {
			fmt.Fprintln(stderr, "There are no staged changes")
		}
	case "plan_changed":
		fmt.Fprintln(stderr, "The plan has changed. Verify with 'riakgo admin cluster plan' before committing")
	default:
		fmt.Fprintf(stderr, "Failed: %s\n", msg)
	}
	return 1
}

func adminCluster(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	verb := args[0]
	var code int
	var body []byte
	var err error
	arg := ""
	switch {
	case verb == "join" && len(args) == 2:
		arg = args[1]
		b, _ := json.Marshal(riakhttp.JoinRequest{Seed: arg})
		code, body, err = c.do("POST", "/admin/cluster/join", b)
	case verb == "leave" && len(args) <= 2:
		var b []byte
		if len(args) == 2 {
			arg = args[1]
			b, _ = json.Marshal(riakhttp.NodeRequest{Node: arg})
		}
		code, body, err = c.do("POST", "/admin/cluster/leave", b)
	case verb == "force-remove" && len(args) == 2:
		arg = args[1]
		b, _ := json.Marshal(riakhttp.NodeRequest{Node: arg})
		code, body, err = c.do("POST", "/admin/cluster/force-remove", b)
	case (verb == "replace" || verb == "force-replace") && len(args) == 3:
		arg = args[1]
		b, _ := json.Marshal(riakhttp.NodeRequest{Node: args[1], Target: args[2]})
		code, body, err = c.do("POST", "/admin/cluster/"+verb, b)
	case verb == "plan" && len(args) == 1:
		code, body, err = c.do("GET", "/admin/cluster/plan", nil)
	case verb == "commit" && len(args) == 1:
		code, body, err = c.do("POST", "/admin/cluster/commit", nil)
	case verb == "clear" && len(args) == 1:
		code, body, err = c.do("POST", "/admin/cluster/clear", nil)
	default:
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return 1
	}
	var a adminAnswer
	_ = json.Unmarshal(body, &a)
	if code >= 300 {
		if arg == "" && a.Node != "" {
			arg = a.Node
		}
		return clusterFailure(stderr, verb, arg, a, body)
	}
	switch verb {
	case "join":
		fmt.Fprintf(stdout, "Success: staged join request for '%s' to '%s'\n", a.Node, arg)
	case "leave":
		fmt.Fprintf(stdout, "Success: staged leave request for '%s'\n", a.Node)
	case "force-remove":
		fmt.Fprintf(stdout, "Success: staged remove request for '%s'\n", arg)
	case "replace":
		fmt.Fprintf(stdout, "Success: staged replacement of '%s' with '%s'\n", args[1], args[2])
	case "force-replace":
		fmt.Fprintf(stdout, "Success: staged forced replacement of '%s' with '%s'\n", args[1], args[2])
	case "commit":
		fmt.Fprintln(stdout, "Cluster changes committed")
	case "clear":
		fmt.Fprintln(stdout, "Cleared staged cluster changes")
	case "plan":
		var p riakhttp.PlanJSON
		if err := json.Unmarshal(body, &p); err != nil {
			fmt.Fprintf(stderr, "riakgo admin: bad answer: %v\n", err)
			return 1
		}
		writePlan(stdout, p)
	}
	return 0
}

func writePlan(w io.Writer, p riakhttp.PlanJSON) {
	fmt.Fprintln(w, banner("Staged Changes", '='))
	fmt.Fprintln(w, "Action         Details(s)")
	fmt.Fprintln(w, rule)
	for _, c := range p.Changes {
		switch {
		case c.Target != "":
			fmt.Fprintf(w, "%-14s '%s' -> '%s'\n", c.Action, c.Node, c.Target)
		default:
			fmt.Fprintf(w, "%-14s '%s'\n", c.Action, c.Node)
		}
	}
	fmt.Fprintln(w, rule)
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	n := len(p.Transitions)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "NOTE: Applying these changes will result in %d cluster transition%s\n\n", n, plural)
	for i, t := range p.Transitions {
		fmt.Fprintln(w, strings.Repeat("#", 79))
		title := fmt.Sprintf("After cluster transition %d/%d", i+1, n)
		fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", (79-len(title))/2), title)
		fmt.Fprintln(w, strings.Repeat("#", 79))
		fmt.Fprintln(w)
		writeMembership(w, t.Members, true)
		fmt.Fprintln(w)
		if !t.MeetsTargetN {
			fmt.Fprintln(w, "WARNING: Not all replicas will be on distinct nodes")
			fmt.Fprintln(w)
		}
		for _, blk := range []struct {
			title, verb string
			moves       []riakhttp.MoveJSON
		}{{"Partitions reassigned from cluster changes", "reassigned", t.Reassigned}, {"Transfers resulting from cluster changes", "transfers", t.Transfers}} {
			total := 0
			for _, m := range blk.moves {
				total += m.Count
			}
			if total == 0 {
				continue
			}
			fmt.Fprintf(w, "%s: %d\n", blk.title, total)
			sort.SliceStable(blk.moves, func(a, b int) bool {
				if blk.moves[a].From != blk.moves[b].From {
					return blk.moves[a].From < blk.moves[b].From
				}
				return blk.moves[a].To < blk.moves[b].To
			})
			for _, m := range blk.moves {
				fmt.Fprintf(w, "  %d %s from '%s' to '%s'\n", m.Count, blk.verb, m.From, m.To)
			}
			fmt.Fprintln(w)
		}
	}
}

func adminMemberStatus(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	var ms riakhttp.MemberStatusJSON
	if !c.getJSON("/admin/member-status", &ms, stderr) {
		return 1
	}
	writeMembership(stdout, ms.Members, ms.Pending)
	return 0
}

func adminRingStatus(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	var rs riakhttp.RingStatusJSON
	if !c.getJSON("/admin/ring-status", &rs, stderr) {
		return 1
	}
	w := stdout
	up := "up"
	if !rs.ClaimantUp {
		up = "down"
	}
	fmt.Fprintln(w, banner("Claimant", '='))
	fmt.Fprintf(w, "Claimant:  '%s'\n", rs.Claimant)
	fmt.Fprintf(w, "Status:     %s\n", up)
	fmt.Fprintf(w, "Ring Ready: %v\n", rs.Ready)
	fmt.Fprintln(w)
	fmt.Fprintln(w, banner("Ownership Handoff", '='))
	if len(rs.Handoffs) == 0 {
		fmt.Fprintln(w, "No pending changes.")
	}
	down := map[string]bool{}
	for _, n := range append(append([]string{}, rs.Down...), rs.Unreachable...) {
		down[n] = true
	}
	mark := func(n string) string {
		if down[n] {
			return fmt.Sprintf("%s (!!! %s is DOWN !!!)", n, n)
		}
		return n
	}
	for _, h := range rs.Handoffs {
		fmt.Fprintf(w, "Owner:      %s\n", mark(h.Owner))
		fmt.Fprintf(w, "Next Owner: %s\n", mark(h.NextOwner))
		for _, t := range h.Transfers {
			fmt.Fprintln(w)
			fmt.Fprintf(w, "Index: %s\n", t.Index)
			if t.Complete {
				fmt.Fprintln(w, "  All transfers complete. Waiting for claimant to change ownership.")
			} else {
				fmt.Fprintln(w, "  Waiting on: [riak_kv_vnode]")
			}
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, rule)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, banner("Unreachable Nodes", '='))
	if len(rs.Unreachable) == 0 {
		fmt.Fprintln(w, "All nodes are up and reachable")
	} else {
		fmt.Fprintln(w, "The following nodes are unreachable: ["+quoteJoin(rs.Unreachable)+"]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "WARNING: The cluster state will not converge until all nodes")
		fmt.Fprintln(w, "are up. Once the above nodes come back online, convergence")
		fmt.Fprintln(w, "will continue. If the outages are long-term or permanent, you")
		fmt.Fprintln(w, "can either mark the nodes as down (riakgo admin down NODE) or")
		fmt.Fprintln(w, "forcibly remove the nodes from the cluster (riakgo admin")
		fmt.Fprintln(w, "cluster force-remove NODE) to allow the remaining nodes to")
		fmt.Fprintln(w, "settle.")
	}
	return 0
}

func quoteJoin(ns []string) string {
	q := make([]string, len(ns))
	for i, n := range ns {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ",")
}

// adminDown is riak-admin down NODE.
func adminDown(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	b, _ := json.Marshal(riakhttp.NodeRequest{Node: args[0]})
	code, body, err := c.do("POST", "/admin/down", b)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return 1
	}
	if code != http.StatusOK {
		var a adminAnswer
		_ = json.Unmarshal(body, &a)
		if a.Reason == "is_up" {
			fmt.Fprintf(stderr, "Failed: %q is up\n", args[0])
			return 1
		}
		return clusterFailure(stderr, "down", args[0], a, body)
	}
	fmt.Fprintf(stdout, "Success: %q marked as down\n", args[0])
	return 0
}

// getJSON GETs an admin route and decodes its JSON answer into out; on
// failure it says why on stderr and returns false.
func (c *adminClient) getJSON(path string, out any, stderr io.Writer) bool {
	code, body, err := c.do("GET", path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return false
	}
	if code != http.StatusOK {
		fmt.Fprintf(stderr, "riakgo admin: %s\n", strings.TrimSpace(string(body)))
		return false
	}
	if err := json.Unmarshal(body, out); err != nil {
		fmt.Fprintf(stderr, "riakgo admin: bad answer: %v\n", err)
		return false
	}
	return true
}
