package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	riakhttp "github.com/riakgo/riakgo/http"
)

// riakgo admin ringready: riak-admin ringready (riak_kv_console:ringready):
//
//	TRUE All nodes agree on the ring ['a','b','c']
//	FALSE Node 'a' and 'b' list different partition owners
//	FALSE ['c'] down.  All nodes need to be up to check.
//
// It exits 0 only on TRUE, so a script can wait on it.
func adminRingReady(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	var rr riakhttp.RingReadyJSON
	if !c.getJSON("/admin/ringready", &rr, stderr) {
		return 1
	}
	switch {
	case rr.Ready:
		fmt.Fprintf(stdout, "TRUE All nodes agree on the ring [%s]\n", quoteJoin(rr.Nodes))
		return 0
	case len(rr.Down) > 0:
		fmt.Fprintf(stdout, "FALSE [%s] down.  All nodes need to be up to check.\n", quoteJoin(rr.Down))
	case len(rr.Differ) == 2:
		fmt.Fprintf(stdout, "FALSE Node '%s' and '%s' list different partition owners\n", rr.Differ[0], rr.Differ[1])
	case rr.Pending > 0:
		fmt.Fprintf(stdout, "FALSE %d partitions are changing owner (see 'riakgo admin ring-status')\n", rr.Pending)
	default:
		fmt.Fprintln(stdout, "FALSE")
	}
	return 1
}

// riakgo admin repair [PARTITION]: riak_kv_vnode:repair/1 (Riak runs it
// from the Erlang console; riakgo makes it a verb). With a partition
// number the request goes to the partition's owner; without, every
// partition of the node asked is repaired. Progress shows in transfers.
func adminRepair(c *adminClient, args []string, stdout, stderr io.Writer) int {
	path := "/admin/repair"
	switch len(args) {
	case 0:
	case 1:
		if n, err := strconv.Atoi(args[0]); err != nil || n < 0 {
			fmt.Fprintf(stderr, "riakgo admin: repair: %q is not a partition number\n", args[0])
			return 2
		}
		path += "?partition=" + args[0]
	default:
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	code, body, err := c.do("POST", path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return 1
	}
	if code != http.StatusOK {
		var a adminAnswer
		_ = json.Unmarshal(body, &a)
		switch a.Reason {
		case "ownership_change_in_progress":
			fmt.Fprintln(stderr, "ownership_change_in_progress: repair when 'riakgo admin transfers' shows no pending ownership handoff")
		case "down":
			fmt.Fprintf(stderr, "Repair failed: %s\n", a.Error)
		default:
			msg := a.Error
			if msg == "" {
				msg = strings.TrimSpace(string(body))
			}
			fmt.Fprintf(stderr, "Repair failed: %s\n", msg)
		}
		return 1
	}
	var out riakhttp.RepairJSON
	if err := json.Unmarshal(body, &out); err != nil {
		fmt.Fprintf(stderr, "riakgo admin: bad answer: %v\n", err)
		return 1
	}
	if len(out.Repairs) == 0 {
		fmt.Fprintln(stdout, "No partition to repair on this node")
		return 0
	}
	for _, r := range out.Repairs {
		var from []string
		for _, s := range r.Sources {
			from = append(from, fmt.Sprintf("partition %d on '%s'", s.Partition, s.Node))
		}
		fmt.Fprintf(stdout, "Repairing partition %d (%s) on '%s' from %s\n", r.Partition, r.Index, r.Owner, strings.Join(from, " and "))
	}
	fmt.Fprintln(stdout, "Progress: riakgo admin transfers")
	return 0
}
