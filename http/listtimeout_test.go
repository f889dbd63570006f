package http

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
)

// slowLister is a service whose listings and index queries emit `before`
// chunks and then do not finish until their context ends: a bucket that
// takes longer to list than the request's timeout. While it waits, time
// passes (by default the clock moves a listing's worth past any timeout
// the tests set; slow may do something else, such as the client going
// away). With wrap, the step that notices the deadline fails with its own
// error (as a remote partition call cut by the deadline does) instead of
// the context's.
type slowLister struct {
	*kv.Service
	before int
	wrap   bool
	slow   func()
}

func (s *slowLister) wait(ctx context.Context) error {
	s.slow()
	select {
	case <-ctx.Done():
	default:
		// Never block: a deadline the clock does not drive would
		// hang the test instead of failing it.
		return errors.New("the listing's context did not end while it was slow")
	}
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

// listingTook is how long a slowLister's listing takes by the handler's
// clock: longer than the ?timeout=60000 of the tests, which the wall clock
// does not reach while they run.
const listingTook = 61 * time.Second

// slowEnv serves a slowLister whose listings take listingTook on the
// handler's manual clock.
func slowEnv(t *testing.T, before int, wrap bool) *env {
	svc, clk := newService(t, 7)
	sl := &slowLister{Service: svc, before: before, wrap: wrap, slow: func() { clk.Advance(listingTook) }}
	srv := httptest.NewServer(NewHandler(sl, Options{Rand: lockedRand(8), Clock: clk}))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, clk: clk}
}

// TestListingTimeout: a listing that takes longer than ?timeout ends with
// Riak's {"error":"timeout"} (riak_kv_wm_keylist's stream_keys and
// produce_bucket_body), whether the timeout passes before the first chunk
// or mid-stream, and whatever error the step that noticed it returned;
// never with internal error text, never by finishing the listing. The
// timeout runs on the handler's clock: a manual clock moved past it
// (which cancels the context rather than letting it expire) drives every
// listing and 2i query to Riak's timeout answer.
func TestListingTimeout(t *testing.T) {
	for _, c := range []struct {
		before int
		wrap   bool
		path   string
		status int
		body   string
	}{
		{0, false, "/buckets/b/keys?keys=stream&timeout=60000", 200, `{"error":"timeout"}`},
		{2, false, "/buckets/b/keys?keys=stream&timeout=60000", 200, `{"keys":["k0"]}{"keys":["k1"]}{"error":"timeout"}`},
		{0, true, "/buckets/b/keys?keys=stream&timeout=60000", 200, `{"error":"timeout"}`},
		{2, true, "/types/default/buckets/b/keys?keys=stream&timeout=60000", 200, `{"keys":["k0"]}{"keys":["k1"]}{"error":"timeout"}`},
		{0, false, "/buckets/b/keys?keys=true&timeout=60000", 200, `{"error":"timeout"}`},
		{2, true, "/buckets/b/keys?keys=true&timeout=60000", 200, `{"error":"timeout"}`},
		{1, false, "/riak/b?keys=true&timeout=60000", 200, `{"error":"timeout"}`},
		{1, true, "/buckets?buckets=stream&timeout=60000", 200, `{"buckets":["b0"]}{"error":"timeout"}`},
		{0, false, "/buckets?buckets=stream&timeout=60000", 200, `{"error":"timeout"}`},
		{0, true, "/buckets?buckets=true&timeout=60000", 503, "request timed out\n"},
		{2, true, "/buckets/b/index/f_bin/t?timeout=60000", 503, "request timed out\n"},
	} {
		e := slowEnv(t, c.before, c.wrap)
		e.get(c.path).want(t, c.status, c.body)
	}
	// The old API streams the props first, then the error.
	r := slowEnv(t, 0, true).get("/riak/b?keys=stream&timeout=60000").want(t, 200, "-")
	if !strings.HasPrefix(r.Body(), `{"props":{`) || !strings.HasSuffix(r.Body(), `}{"error":"timeout"}`) {
		t.Errorf("v1 stream: %q", r.body)
	}
	// A streamed index query ends with an {"error":"timeout"} part, even
	// when it is the first part (riak_kv_wm_index's stream_error).
	for _, before := range []int{0, 2} {
		for _, wrap := range []bool{false, true} {
			parts := multipartParts(t, slowEnv(t, before, wrap).get("/buckets/b/index/f_bin/t?stream=true&timeout=60000"))
			if len(parts) != before+1 || string(parts[before]["error"]) != `"timeout"` || len(parts[before]) != 1 {
				t.Errorf("index stream (%d results first, wrapped %t): parts %v", before, wrap, parts)
			}
		}
	}
}

// TestListingClientGoneIsNotTimeout: a client that goes away while its
// listing or query runs cancels the request's context; that is not the
// request's timeout, so nothing answers Riak's timeout (on a manual clock
// the timeout also ends the context by cancellation; the two must not be
// confused).
func TestListingClientGoneIsNotTimeout(t *testing.T) {
	for _, path := range []string{
		"/buckets/b/keys?keys=stream&timeout=60000",
		"/buckets/b/keys?keys=true&timeout=60000",
		"/riak/b?keys=true&timeout=60000",
		"/buckets?buckets=stream&timeout=60000",
		"/buckets?buckets=true&timeout=60000",
		"/buckets/b/index/f_bin/t?timeout=60000",
		"/buckets/b/index/f_bin/t?stream=true&timeout=60000",
	} {
		for _, before := range []int{0, 2} {
			svc, clk := newService(t, 7)
			ctx, gone := context.WithCancel(context.Background())
			sl := &slowLister{Service: svc, before: before, slow: gone}
			h := NewHandler(sl, Options{Rand: lockedRand(8), Clock: clk})
			req := httptest.NewRequestWithContext(ctx, "GET", path, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if body := w.Body.String(); strings.Contains(body, "timeout") || strings.Contains(body, "timed out") {
				t.Errorf("%s (%d results first): the client went away, answered %d %q", path, before, w.Code, body)
			}
			if clk.Pending() != 0 {
				t.Errorf("%s: the request's timeout is still scheduled after it ended", path)
			}
		}
	}
}

// TestRequestTimeoutExpired: a request's timeout is told apart from its
// client going away on both clocks: whichever ends the context first says
// what it was.
func TestRequestTimeoutExpired(t *testing.T) {
	clk := clock.NewManual(testStart)
	for _, c := range []struct {
		name    string
		clk     clock.Clock
		d       time.Duration
		advance time.Duration // on the manual clock
		gone    bool          // the client goes away (before the advance)
		want    bool
	}{
		{"manual, running", clk, time.Second, 999 * time.Millisecond, false, false},
		{"manual, timeout passed", clk, time.Second, time.Second, false, true},
		{"manual, client gone", clk, time.Second, 0, true, false},
		{"manual, client gone, then timeout", clk, time.Second, time.Second, true, false},
		{"manual, timeout, then client gone", clk, time.Second, -time.Second, false, true},
		{"wall, timeout passed", nil, 0, 0, false, true},
		{"wall, client gone", nil, time.Hour, 0, true, false},
	} {
		h := NewHandler(nil, Options{Clock: c.clk})
		parent, gone := context.WithCancel(context.Background())
		rt, cancel := h.withTimeout(parent, c.d)
		if c.gone {
			gone()
		}
		if c.advance < 0 { // the timeout passes, then the client goes
			clk.Advance(-c.advance)
			gone()
		}
		clk.Advance(max(c.advance, 0))
		if c.d == 0 {
			<-rt.ctx.Done() // a wall-clock deadline of 0 has passed already
		}
		if got := rt.expired(); got != c.want {
			t.Errorf("%s: expired %t, want %t", c.name, got, c.want)
		}
		if got := rt.timedOut(context.Cause(rt.ctx)); c.want && !got {
			t.Errorf("%s: its context's error is not a timeout", c.name)
		}
		if rt.timedOut(nil) {
			t.Errorf("%s: no error is never a timeout", c.name)
		}
		cancel()
		gone()
	}
}
