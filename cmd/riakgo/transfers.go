package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
)

// riakgo admin transfers: riak-admin transfers' layout
// (riak_core_console:transfers): down nodes, the partitions each node is
// waiting to hand off, then an "Active Transfers:" block per outbound
// transfer with its progress, rates and (riakgo's addition) an ETA.

func adminTransfers(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	var tj riakhttp.TransfersJSON
	if !c.getJSON("/admin/transfers", &tj, stderr) {
		return 1
	}
	writeTransfers(stdout, tj)
	return 0
}

func writeTransfers(w io.Writer, tj riakhttp.TransfersJSON) {
	if len(tj.Down) > 0 {
		var names []string
		for _, n := range tj.Down {
			names = append(names, string(n))
		}
		fmt.Fprintf(w, "Nodes [%s] are currently down.\n", quoteJoin(names))
	}
	for _, n := range tj.Unreachable {
		fmt.Fprintf(w, "Node '%s' could not be contacted\n", n)
	}
	waiting := false
	for _, st := range tj.Nodes {
		if st.Waiting > 0 {
			waiting = true
			fmt.Fprintf(w, "'%s' waiting to handoff %d partitions\n", st.Node, st.Waiting)
		}
		if st.Repairing > 0 {
			waiting = true
			fmt.Fprintf(w, "'%s' waiting for the repair of %d partitions\n", st.Node, st.Repairing)
		}
	}
	if !waiting {
		fmt.Fprintln(w, "No transfers active")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Active Transfers:")
	fmt.Fprintln(w)
	for _, st := range tj.Nodes {
		for _, pr := range st.Active {
			if pr.Direction != handoff.Outbound {
				continue
			}
			writeTransfer(w, pr, tj.Now)
		}
	}
}

func writeTransfer(w io.Writer, pr handoff.Progress, now time.Time) {
	ago := func(t time.Time) string {
		return fmt.Sprintf("%s [%.2f s ago]", t.Local().Format("2006-01-02 15:04:05"), now.Sub(t).Seconds())
	}
	objs, bps := pr.Rates(now)
	fmt.Fprintf(w, "transfer type: %s_transfer\n", pr.Kind)
	fmt.Fprintln(w, "vnode type: riakgo_kv_vnode")
	fmt.Fprintf(w, "partition: %d\n", pr.Partition)
	if pr.Kind == "repair" {
		fmt.Fprintf(w, "from partition: %d\n", pr.Source)
	}
	fmt.Fprintf(w, "started: %s\n", ago(pr.Started))
	fmt.Fprintf(w, "last update: %s\n", ago(pr.Updated))
	if pr.SizeBytes > 0 {
		fmt.Fprintf(w, "total size: %d bytes\n", pr.SizeBytes)
	} else {
		fmt.Fprintln(w, "total size: unknown")
	}
	fmt.Fprintf(w, "objects transferred: %d\n", pr.Objects)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%25s%.0f Objs/s\n", "", objs)
	fmt.Fprintf(w, "%21s        =======>  %-21s\n", pr.From, pr.To)
	if pc := pr.Percent(); pc >= 0 {
		bar := int(pc / 2)
		fmt.Fprintf(w, "        |%s%s|  %.0f%%\n", strings.Repeat("=", bar), strings.Repeat(" ", 50-bar), pc)
	}
	fmt.Fprintf(w, "%25s%.2f MB/s\n", "", bps/1e6)
	if eta, ok := pr.ETA(now); ok {
		fmt.Fprintf(w, "%25sETA %s\n", "", eta.Round(time.Second))
	}
	fmt.Fprintln(w)
}
