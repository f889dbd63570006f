package node

import (
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
)

// TestStorageStatsAreReal: a node on Pebble reports its disk use, block
// cache and object cache in /stats and /metrics, and the figures move
// with the work done: a read of a written key hits the object cache.
func TestStorageStatsAreReal(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "stats@127.0.0.1")
	defer stopNode(t, n)
	base := "http://" + n.HTTPAddr()
	stats := func() map[string]float64 {
		t.Helper()
		resp, err := nethttp.Get(base + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				out[k] = f
			}
		}
		return out
	}
	before := stats()
	if before["riakgo_storage_disk_bytes"] <= 0 {
		t.Fatalf("disk bytes %v, want > 0", before["riakgo_storage_disk_bytes"])
	}
	for i := range 20 {
		req, _ := nethttp.NewRequest("PUT", fmt.Sprintf("%s/buckets/b/keys/k%d", base, i), strings.NewReader("v"))
		req.Header.Set("Content-Type", "text/plain")
		resp, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("put: %d", resp.StatusCode)
		}
	}
	for i := range 20 {
		resp, err := nethttp.Get(fmt.Sprintf("%s/buckets/b/keys/k%d", base, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("get: %d", resp.StatusCode)
		}
	}
	after := stats()
	// Each get reads n_val (3) replicas, each cached by the writes.
	if got := after["riakgo_object_cache_hits"] - before["riakgo_object_cache_hits"]; got < 60 {
		t.Errorf("object cache hits grew by %v after 20 gets of cached keys, want >= 60", got)
	}
	if after["riakgo_object_cache_entries"] < 60 || after["riakgo_object_cache_used_bytes"] <= 0 {
		t.Errorf("object cache entries %v, used %v: want the 60 replicas written", after["riakgo_object_cache_entries"], after["riakgo_object_cache_used_bytes"])
	}
	if after["riakgo_storage_memtable_used_bytes"] <= 0 {
		t.Errorf("memtable %v bytes, want > 0", after["riakgo_storage_memtable_used_bytes"])
	}
	resp, err := nethttp.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"riakgo_storage_disk_bytes ", "riakgo_object_cache_hits_total ", "riakgo_storage_compaction_debt_bytes "} {
		if !strings.Contains(string(body), "\n"+name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
}
