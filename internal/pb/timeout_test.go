package pb

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
)

// slowLister is a service whose listings, index queries and gets emit
// `before` results and then do not finish until their context ends: a
// bucket that takes longer to list than the request's timeout. While it
// waits, slow runs (it moves the server's manual clock, as time passing
// during the listing would).
type slowLister struct {
	kv.Client
	before int
	slow   func()
	getErr error // if set, Get fails with it at once
}

func (s *slowLister) wait(ctx context.Context) error {
	s.slow()
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		// Never block: a deadline the clock does not drive would hang
		// the test instead of failing it.
		return errors.New("the request's context did not end while it was slow")
	}
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

func (s *slowLister) Get(ctx context.Context, _ kv.Key, _ kv.Options) (*siblings.Object, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return nil, s.wait(ctx)
}

// TestRequestTimeout: a listing, 2i query or get that takes longer than
// its timeout field ends with Riak's RpbErrorResp "timeout" (after the
// results streamed so far), driven by the server's manual clock, which
// cancels the request's context rather than letting it expire. A
// cancellation that is not the request's timeout is not answered as one.
func TestRequestTimeout(t *testing.T) {
	const timeout = 60000 // ms: the wall clock does not reach it while the test runs
	took := 61 * time.Second
	clk := clock.NewManual(time.Date(2024, 3, 5, 14, 30, 15, 0, time.UTC))
	sl := &slowLister{slow: func() { clk.Advance(took) }}
	e := newEnvOver(t, Config{Clock: clk}, func(svc *kv.Service) kv.Client { sl.Client = svc; return sl })
	c := e.dial()
	b := []byte("b")
	idx := func(stream bool) *riakpb.RpbIndexReq {
		return &riakpb.RpbIndexReq{Bucket: b, Index: []byte("f_bin"), Qtype: riakpb.RpbIndexReq_eq.Enum(), Key: []byte("t"),
			Stream: ptr(stream), Timeout: ptr(uint32(timeout))}
	}
	for _, tc := range []struct {
		name string
		code riakpb.Code
		req  riakpb.Message
		resp riakpb.Code // the code of the streamed results
	}{
		{"list keys", riakpb.CodeListKeysReq, &riakpb.RpbListKeysReq{Bucket: b, Timeout: ptr(uint32(timeout))}, riakpb.CodeListKeysResp},
		{"list buckets, streamed", riakpb.CodeListBucketsReq, &riakpb.RpbListBucketsReq{Stream: ptr(true), Timeout: ptr(uint32(timeout))}, riakpb.CodeListBucketsResp},
		{"list buckets", riakpb.CodeListBucketsReq, &riakpb.RpbListBucketsReq{Timeout: ptr(uint32(timeout))}, 0},
		{"index, streamed", riakpb.CodeIndexReq, idx(true), riakpb.CodeIndexResp},
		{"index", riakpb.CodeIndexReq, idx(false), 0},
		{"get", riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: b, Key: []byte("k"), Timeout: ptr(uint32(timeout))}, 0},
	} {
		for _, before := range []int{0, 2} {
			if tc.code == riakpb.CodeGetReq && before > 0 {
				continue
			}
			sl.before = before
			c.send(tc.code, tc.req)
			streamed := 0
			if tc.resp != 0 {
				streamed = before
			}
			for i := range streamed {
				code, _, err := c.recv()
				if err != nil || code != tc.resp {
					t.Fatalf("%s (%d results first): response %d is %s (%v), want %s", tc.name, before, i, code, err, tc.resp)
				}
			}
			if msg := c.wantError(); msg != "timeout" {
				t.Errorf("%s (%d results first): errmsg %q, want \"timeout\"", tc.name, before, msg)
			}
			if n := clk.Pending(); n != 0 {
				t.Errorf("%s: %d timers left after the request", tc.name, n)
			}
		}
	}
	c.ping()

	// A request that fails with a cancellation before its timeout passed
	// is not answered as a timeout, though its timeout's cancel function
	// has run when the error is answered.
	sl.getErr = context.Canceled
	const cancelled = "The request was cancelled: the node is shutting down"
	if msg := c.callErr(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: b, Key: []byte("k"), Timeout: ptr(uint32(timeout))}); msg != cancelled {
		t.Errorf("a cancellation that is not the timeout answered %q, want %q", msg, cancelled)
	}
}
