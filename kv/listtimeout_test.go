package kv_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// expiringCtx is a context whose deadline passes after its Err has been
// asked n times: a listing that keeps checking its timeout sees it pass
// part-way through, deterministically, without waiting on a clock.
type expiringCtx struct {
	context.Context
	left atomic.Int64
}

func expireAfter(n int64) *expiringCtx {
	c := &expiringCtx{Context: context.Background()}
	c.left.Store(n)
	return c
}

func (c *expiringCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *expiringCtx) Deadline() (time.Time, bool) { return time.Time{}, true }

// TestListTimeoutStopsTheListing: a listing whose timeout passes while it
// runs stops with the deadline error and never emits the rest, however few
// keys or buckets there are (Riak's keys=stream ends with
// {"error":"timeout"}; it does not finish the listing).
func TestListTimeoutStopsTheListing(t *testing.T) {
	e := newEnv(t)
	for i := range 40 {
		e.put(key(fmt.Sprintf("b%d", i%4), fmt.Sprintf("k%02d", i)), "v", nil)
	}
	for _, n := range []int64{0, 1, 5, 20} {
		var got int
		err := e.svc.ListKeys(expireAfter(n), "default", "b0", func(c []string) error { got += len(c); return nil })
		if !errors.Is(err, context.DeadlineExceeded) || got != 0 {
			t.Errorf("ListKeys expiring after %d checks: %d keys emitted, err %v; want none and the deadline", n, got, err)
		}
		got = 0
		err = e.svc.ListBuckets(expireAfter(n), "default", func(c []string) error { got += len(c); return nil })
		if !errors.Is(err, context.DeadlineExceeded) || got != 0 {
			t.Errorf("ListBuckets expiring after %d checks: %d buckets emitted, err %v", n, got, err)
		}
	}
	// With time left the listing is complete.
	wantKeys(t, "b0", e.listKeys("default", "b0"), "k00", "k04", "k08", "k12", "k16", "k20", "k24", "k28", "k32", "k36")
}
