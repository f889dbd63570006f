package main

import (
	"fmt"
	"io"
	"strings"
	"time"

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
			if pr.Direction != riakhttp.Outbound {
				continue
			}
			writeTransfer(w, pr, tj.Now)
		}
	}
}

func writeTransfer(w io.Writer, pr riakhttp.ProgressJSON, now time.Time) {
	ago := func(t time.Time) string {
		return fmt.Sprintf("%s [%.2f s ago]", t.Local().Format("2006-01-02 15:04:05"), now.Sub(t).Seconds())
	}
	objs, bps := transferRates(pr, now)
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
	if pc := transferPercent(pr); pc >= 0 {
		bar := int(pc / 2)
		fmt.Fprintf(w, "        |%s%s|  %.0f%%\n", strings.Repeat("=", bar), strings.Repeat(" ", 50-bar), pc)
	}
	fmt.Fprintf(w, "%25s%.2f MB/s\n", "", bps/1e6)
	if eta, ok := transferETA(pr, now); ok {
		fmt.Fprintf(w, "%25sETA %s\n", "", eta.Round(time.Second))
	}
	fmt.Fprintln(w)
}

// transferRates returns objects/s and bytes/s since the transfer started, as of now.
func transferRates(p riakhttp.ProgressJSON, now time.Time) (objects, bytes float64) {
	el := now.Sub(p.Started).Seconds()
	if el <= 0 {
		return 0, 0
	}
	return float64(p.Objects) / el, float64(p.Bytes) / el
}

// transferETA estimates the time left (false if it cannot: no size estimate or no
// progress yet).
func transferETA(p riakhttp.ProgressJSON, now time.Time) (time.Duration, bool) {
	_, bps := transferRates(p, now)
	if p.SizeBytes <= 0 || bps <= 0 {
		return 0, false
	}
	left := p.SizeBytes - p.Bytes
	if left < 0 {
		left = 0
	}
	return time.Duration(float64(left) / bps * float64(time.Second)), true
}

// transferPercent returns the share done by bytes (0..100), or -1 without an
// estimate.
func transferPercent(p riakhttp.ProgressJSON) float64 {
	if p.SizeBytes <= 0 {
		return -1
	}
	pc := 100 * float64(p.Bytes) / float64(p.SizeBytes)
	if pc > 100 {
		pc = 100
	}
	return pc
}
