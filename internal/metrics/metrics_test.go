package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestRegistryExportsRequestAndObjectMetrics(t *testing.T) {
	r := New()
	r.Request("get", 200, 3*time.Millisecond)
	r.Request("get", 404, time.Millisecond)
	r.Request("put", 204, 5*time.Millisecond)
	r.Request("weird", 500, time.Millisecond) // unknown ops count as other
	r.ObjectRead(2, 2048)
	r.ObjectWritten(1, 1024)
	r.ReadRepairs(3)
	out := scrape(t, r)
	for _, want := range []string{
		`riakgo_request_duration_seconds_count{op="get"} 2`,
		`riakgo_request_duration_seconds_count{op="put"} 1`,
		`riakgo_request_duration_seconds_count{op="other"} 1`,
		`riakgo_responses_total{code="404",op="get"} 1`,
		`riakgo_responses_total{code="500",op="other"} 1`,
		`riakgo_object_siblings_sum{op="get"} 2`,
		`riakgo_object_size_bytes_sum{op="put"} 1024`,
		`riakgo_read_repairs_total 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics output lacks %q", want)
		}
	}
}

func TestRegistryExportsPGStats(t *testing.T) {
	r := New()
	r.RegisterPG(func() PGStats {
		return PGStats{Groups: 2, Members: 5, Leases: 1, WatchStreams: 3, Joins: 7, Leaves: 4, LeaseLapses: 1, Prunes: 6, Repairs: 2}
	})
	r.Request("pg", 200, time.Millisecond)
	out := scrape(t, r)
	for _, want := range []string{
		"riakgo_pg_groups 2", "riakgo_pg_members 5", "riakgo_pg_leases 1", "riakgo_pg_watch_streams 3",
		"riakgo_pg_joins_total 7", "riakgo_pg_leaves_total 4", "riakgo_pg_lease_lapses_total 1",
		"riakgo_pg_prunes_total 6", "riakgo_pg_repairs_total 2",
		`riakgo_request_duration_seconds_count{op="pg"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics output lacks %q", want)
		}
	}
}
