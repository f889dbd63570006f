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

// riakgo admin aae-status and aae-rebuild: the node's anti-entropy
// counters, and a rebuild of its trees from storage on request.

func adminAAEStatus(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	var aj riakhttp.AAEJSON
	if !c.getJSON("/admin/aae-status", &aj, stderr) {
		return 1
	}
	writeAAEStatus(stdout, aj)
	return 0
}

func writeAAEStatus(w io.Writer, aj riakhttp.AAEJSON) {
	st := aj.Status
	fmt.Fprintln(w, banner("Anti-Entropy", '='))
	fmt.Fprintf(w, "node:           '%s'\n", aj.Node)
	fmt.Fprintf(w, "exchanges:      %d (%d in sync, %d failed)\n", st.Exchanges, st.InSync, st.Failed)
	fmt.Fprintf(w, "keys repaired:  %d\n", st.KeysRepaired)
	fmt.Fprintf(w, "trees built:    %d\n", st.TreesBuilt)
	if st.LastExchange.IsZero() {
		fmt.Fprintln(w, "last exchange:  --")
	} else {
		fmt.Fprintf(w, "last exchange:  %s\n", st.LastExchange.Local().Format("2006-01-02 15:04:05"))
	}
	if len(aj.Unbuilt) == 0 {
		fmt.Fprintln(w, "awaiting build: none")
	} else {
		var ps []string
		for _, p := range aj.Unbuilt {
			ps = append(ps, strconv.Itoa(p))
		}
		fmt.Fprintf(w, "awaiting build: partitions %s\n", strings.Join(ps, ", "))
	}
}

func adminAAERebuild(c *adminClient, args []string, stdout, stderr io.Writer) int {
	path := "/admin/aae-rebuild"
	switch len(args) {
	case 0:
	case 1:
		if n, err := strconv.Atoi(args[0]); err != nil || n < 0 {
			fmt.Fprintf(stderr, "riakgo admin: aae-rebuild: %q is not a partition number\n", args[0])
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
		fmt.Fprintf(stderr, "riakgo admin: %s\n", strings.TrimSpace(string(body)))
		return 1
	}
	var out struct{ Partitions int }
	_ = json.Unmarshal(body, &out)
	fmt.Fprintf(stdout, "Rebuilding the anti-entropy trees of %d partitions\n", out.Partitions)
	return 0
}
