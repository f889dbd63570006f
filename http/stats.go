package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	nethttp "net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/kv"
)

// RiakKVVersion is the riak_kv_version /stats reports. Clients read it to
// enable features (bucket types, data types, preflists need ≥ 2.0/2.1).
const RiakKVVersion = "2.2.3"

// serveStats answers GET /stats with Riak's stat names: JSON by default,
// pretty text with Accept: text/plain.
func (h *Handler) serveStats(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	st := h.c.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := map[string]any{
		"nodename":                      st.Node,
		"connected_nodes":               []string{},
		"ring_members":                  st.Members,
		"ring_num_partitions":           st.RingSize,
		"ring_creation_size":            st.RingSize,
		"ring_ownership":                fmt.Sprintf("[{'%s',%d}]", st.Node, st.RingSize),
		"storage_backend":               "riakgo_pebble_backend",
		"riak_kv_version":               RiakKVVersion,
		"riak_core_version":             RiakKVVersion,
		"riak_api_version":              RiakKVVersion,
		"riakgo_version":                h.o.Version,
		"sys_driver_version":            runtime.Version(),
		"sys_logical_processors":        runtime.NumCPU(),
		"sys_process_count":             runtime.NumGoroutine(),
		"cpu_nprocs":                    runtime.NumGoroutine(),
		"mem_total":                     ms.Sys,
		"mem_allocated":                 ms.HeapAlloc,
		"memory_total":                  ms.Sys,
		"memory_processes":              ms.HeapAlloc,
		"node_gets":                     st.NodeGets,
		"node_gets_total":               st.NodeGetsTotal,
		"coord_redirs_total":            st.CoordRedirsTotal,
		"riakgo_node_gets_remote_total": st.GetsRemoteTotal,
		"node_puts":                     st.NodePuts,
		"node_puts_total":               st.NodePutsTotal,
		"vnode_gets":                    st.VnodeGets,
		"vnode_gets_total":              st.VnodeGetsTotal,
		"vnode_puts":                    st.VnodePuts,
		"vnode_puts_total":              st.VnodePutsTotal,
		"read_repairs":                  st.ReadRepairs,
		"read_repairs_total":            st.ReadRepairsTotal,
		"pbc_active":                    0,
		"pbc_connects":                  0,
		"pbc_connects_total":            0,
	}
	if h.o.ExtraStats != nil {
		for k, v := range h.o.ExtraStats() {
			m[k] = v
		}
	}
	summary := func(prefix string, s kv.Summary) {
		m[prefix+"_mean"] = s.Mean
		m[prefix+"_median"] = s.Median
		m[prefix+"_95"] = s.P95
		m[prefix+"_99"] = s.P99
		m[prefix+"_100"] = s.Max
	}
	summary("node_get_fsm_time", st.GetTime)
	summary("node_put_fsm_time", st.PutTime)
	summary("node_get_fsm_siblings", st.GetSiblings)
	summary("node_get_fsm_objsize", st.GetObjSize)
	if strings.Contains(r.Header.Get("Accept"), "text/plain") {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b bytes.Buffer
		b.WriteString("{\n")
		for i, k := range keys {
			v, _ := json.Marshal(m[k])
			sep := ","
			if i == len(keys)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "    %q: %s%s\n", k, v, sep)
		}
		b.WriteString("}\n")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.Write(b.Bytes())
		return
	}
	writeJSON(w, 200, m)
}
