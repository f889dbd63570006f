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
