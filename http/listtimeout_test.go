package http

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/kv"
)

// slowLister is a service whose listings and index queries emit `before`
// chunks and then do not finish until their context ends: a bucket that
// takes longer to list than the request's timeout. With wrap, the step that
// notices the deadline fails with its own error (as a remote partition call
// cut by the deadline does) instead of the context's.
type slowLister struct {
	*kv.Service
	before int
	wrap   bool
}

func (s *slowLister) wait(ctx context.Context) error {
	<-ctx.Done()
	if s.wrap {
		return fmt.Errorf("%w: listing partition 3 on riakgo@10.0.0.2: %v", kv.ErrUnavailable, ctx.Err())
	}
	return ctx.Err()
}

func (s *slowLister) ListKeys(ctx context.Context, _, _ string, emit func([]string) error) error {
	for i := range s.before {
		if err := emit([]string{fmt.Sprintf("k%d", i)}); err != nil {
			return err
		}
	}
	return s.wait(ctx)
}

func (s *slowLister) ListBuckets(ctx context.Context, _ string, emit func([]string) error) error {
	for i := range s.before {
		if err := emit([]string{fmt.Sprintf("b%d", i)}); err != nil {
			return err
		}
	}
	return s.wait(ctx)
}

func (s *slowLister) Query(ctx context.Context, _ kv.IndexQuery, emit func([]kv.IndexResult) error) (string, error) {
	for i := range s.before {
		if err := emit([]kv.IndexResult{{Term: "t", Key: fmt.Sprintf("k%d", i)}}); err != nil {
			return "", err
		}
	}
	return "", s.wait(ctx)
}

func slowEnv(t *testing.T, before int, wrap bool) *env {
	svc, clk := newService(t, 7)
	srv := httptest.NewServer(NewHandler(&slowLister{Service: svc, before: before, wrap: wrap}, Options{Rand: lockedRand(8)}))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, clk: clk}
}

// TestListingTimeout: a listing that takes longer than ?timeout ends with
// Riak's {"error":"timeout"} (riak_kv_wm_keylist's stream_keys and
// produce_bucket_body), whether the timeout passes before the first chunk
// or mid-stream, and whatever error the step that noticed it returned;
// never with internal error text, never by finishing the listing.
func TestListingTimeout(t *testing.T) {
	for _, c := range []struct {
		before int
		wrap   bool
		path   string
		status int
		body   string
	}{
		{0, false, "/buckets/b/keys?keys=stream&timeout=1", 200, `{"error":"timeout"}`},
		{2, false, "/buckets/b/keys?keys=stream&timeout=1", 200, `{"keys":["k0"]}{"keys":["k1"]}{"error":"timeout"}`},
		{0, true, "/buckets/b/keys?keys=stream&timeout=1", 200, `{"error":"timeout"}`},
		{2, true, "/types/default/buckets/b/keys?keys=stream&timeout=1", 200, `{"keys":["k0"]}{"keys":["k1"]}{"error":"timeout"}`},
		{0, false, "/buckets/b/keys?keys=true&timeout=1", 200, `{"error":"timeout"}`},
		{2, true, "/buckets/b/keys?keys=true&timeout=1", 200, `{"error":"timeout"}`},
		{1, false, "/riak/b?keys=true&timeout=1", 200, `{"error":"timeout"}`},
		{1, true, "/buckets?buckets=stream&timeout=1", 200, `{"buckets":["b0"]}{"error":"timeout"}`},
		{0, false, "/buckets?buckets=stream&timeout=1", 200, `{"error":"timeout"}`},
		{0, true, "/buckets?buckets=true&timeout=1", 503, "request timed out\n"},
		{2, true, "/buckets/b/index/f_bin/t?timeout=1", 503, "request timed out\n"},
	} {
		e := slowEnv(t, c.before, c.wrap)
		e.get(c.path).want(t, c.status, c.body)
	}
	// The old API streams the props first, then the error.
	r := slowEnv(t, 0, true).get("/riak/b?keys=stream&timeout=1").want(t, 200, "-")
	if !strings.HasPrefix(r.Body(), `{"props":{`) || !strings.HasSuffix(r.Body(), `}{"error":"timeout"}`) {
		t.Errorf("v1 stream: %q", r.body)
	}
	// A streamed index query ends with an {"error":"timeout"} part, even
	// when it is the first part (riak_kv_wm_index's stream_error).
	for _, before := range []int{0, 2} {
		for _, wrap := range []bool{false, true} {
			parts := multipartParts(t, slowEnv(t, before, wrap).get("/buckets/b/index/f_bin/t?stream=true&timeout=1"))
			if len(parts) != before+1 || string(parts[before]["error"]) != `"timeout"` || len(parts[before]) != 1 {
				t.Errorf("index stream (%d results first, wrapped %t): parts %v", before, wrap, parts)
			}
		}
	}
}
