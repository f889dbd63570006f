package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestManualFiresInOrder(t *testing.T) {
	m := NewManual(time.Unix(1000, 0))
	var got []int
	m.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	m.AfterFunc(1*time.Second, func() { got = append(got, 1) })
	t2 := m.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	m.AfterFunc(1*time.Second, func() { got = append(got, 11) })
	if !t2.Stop() {
		t.Fatal("stop of pending timer returned false")
	}
	m.Advance(1500 * time.Millisecond)
	if len(got) != 2 || got[0] != 1 || got[1] != 11 {
		t.Fatalf("after 1.5s got %v", got)
	}
	m.Advance(10 * time.Second)
	if len(got) != 3 || got[2] != 3 {
		t.Fatalf("after 11.5s got %v", got)
	}
	if want := time.Unix(1011, 500e6); !m.Now().Equal(want) {
		t.Fatalf("now %v want %v", m.Now(), want)
	}
	if m.Pending() != 0 {
		t.Fatalf("pending %d", m.Pending())
	}
}

func TestManualTimerScheduledByCallback(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	fired := 0
	m.AfterFunc(time.Second, func() {
		m.AfterFunc(time.Second, func() { fired++ })
	})
	m.Advance(2 * time.Second)
	if fired != 1 {
		t.Fatalf("chained timer fired %d times", fired)
	}
}

// A timeout on a manual clock ends the context as a wall-clock timeout
// would: DeadlineExceeded, for it and for what derives from it; its cancel
// function and the parent's end read as a cancellation.
func TestWithTimeoutOnManualClock(t *testing.T) {
	clk := NewManual(time.Unix(0, 0))
	ctx, cancel := WithTimeout(context.Background(), clk, time.Second)
	defer cancel()
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	grandchild, cancelGrandchild := context.WithTimeout(child, time.Hour)
	defer cancelGrandchild()
	clk.Advance(999 * time.Millisecond)
	if ctx.Err() != nil || child.Err() != nil {
		t.Fatalf("ended before its time: %v %v", ctx.Err(), child.Err())
	}
	clk.Advance(time.Millisecond)
	for name, c := range map[string]context.Context{"ctx": ctx, "child": child, "grandchild": grandchild} {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not done after the timeout", name)
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("%s: Err = %v, want DeadlineExceeded", name, c.Err())
		}
	}

	ctx2, cancel2 := WithTimeout(context.Background(), clk, time.Second)
	cancel2()
	clk.Advance(time.Hour)
	if ctx2.Err() != context.Canceled {
		t.Fatalf("cancelled before its timeout: Err = %v, want Canceled", ctx2.Err())
	}

	parent, cancelParent := context.WithCancel(context.Background())
	ctx3, cancel3 := WithTimeout(parent, clk, time.Second)
	defer cancel3()
	cancelParent()
	if ctx3.Err() != context.Canceled {
		t.Fatalf("parent ended: Err = %v, want Canceled", ctx3.Err())
	}
}

// DeadlineOn reads the earliest WithTimeout deadline made on a clock, and
// nothing for another clock or the wall clock.
func TestDeadlineOn(t *testing.T) {
	clk, other := NewManual(time.Unix(100, 0)), NewManual(time.Unix(100, 0))
	outer, c1 := WithTimeout(context.Background(), clk, 5*time.Second)
	defer c1()
	inner, c2 := WithTimeout(outer, clk, 10*time.Second) // later than outer: outer's stands
	defer c2()
	shorter, c3 := WithTimeout(outer, clk, 2*time.Second)
	defer c3()
	for _, c := range []struct {
		ctx  context.Context
		want time.Time
	}{{outer, time.Unix(105, 0)}, {inner, time.Unix(105, 0)}, {shorter, time.Unix(102, 0)}} {
		if at, ok := DeadlineOn(c.ctx, clk); !ok || !at.Equal(c.want) {
			t.Fatalf("DeadlineOn = %v %v, want %v", at, ok, c.want)
		}
	}
	if _, ok := DeadlineOn(outer, other); ok {
		t.Fatal("a deadline on another clock was read")
	}
	wall, c4 := WithTimeout(context.Background(), Real{}, time.Hour)
	defer c4()
	if _, ok := DeadlineOn(wall, clk); ok {
		t.Fatal("a wall-clock deadline read as one on the manual clock")
	}
	// inner ends at outer's deadline, not its own.
	clk.Advance(5 * time.Second)
	if !errors.Is(inner.Err(), context.DeadlineExceeded) {
		t.Fatalf("inner after outer's deadline: %v", inner.Err())
	}
}
