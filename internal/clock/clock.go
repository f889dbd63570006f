package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and schedules callbacks. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled callback.
type Timer interface {
	// Stop cancels the callback; it reports whether it was still pending.
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// OrReal returns c, or Real if c is nil.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// WithTimeout returns a copy of ctx that ends once d has passed on clk
// (or when ctx ends). On the wall clock it is context.WithTimeout, so the
// deadline is visible to whatever reads it (the TCP transport sends it to
// the peer); on any other clock the context ends when that clock says so,
// never by wall time, and then says so as a wall-clock timeout does: its
// Err, and the Err of every context derived from it, is
// context.DeadlineExceeded.
func WithTimeout(ctx context.Context, clk Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if _, wall := OrReal(clk).(Real); wall {
		return context.WithTimeout(ctx, d)
	}
	at := clk.Now().Add(d)
	if outer, ok := DeadlineOn(ctx, clk); ok && outer.Before(at) {
		at = outer
	}
	inner, cancel := context.WithCancelCause(ctx)
	valued := context.WithValue(inner, deadlineKey{}, clockDeadline{clk: clk, at: at})
	tc := &timeoutCtx{Context: valued, inner: inner}
	if !at.After(clk.Now()) { // passed already: ended now, as context.WithTimeout does
		cancel(context.DeadlineExceeded)
		return tc, func() {}
	}
	t := clk.AfterFunc(at.Sub(clk.Now()), func() { cancel(context.DeadlineExceeded) })
	return tc, func() { t.Stop(); cancel(context.Canceled) }
}

// WithoutCancel is context.WithoutCancel, also dropping a deadline made by
// WithTimeout on a test clock (context.WithoutCancel keeps values, and
// such a deadline is one): work detached from a request outlives its
// deadline on every clock alike.
func WithoutCancel(ctx context.Context) context.Context {
	return context.WithValue(context.WithoutCancel(ctx), deadlineKey{}, nil)
}

// DeadlineOn returns the deadline, on clk, of the earliest WithTimeout
// among ctx's ancestors made with that same clock (not a wall-clock
// deadline: read those with ctx.Deadline). A transport that runs on the
// test's clock reads it as TCP reads a wall-clock deadline, to bound the
// call and to tell the peer.
func DeadlineOn(ctx context.Context, clk Clock) (time.Time, bool) {
	d, ok := ctx.Value(deadlineKey{}).(clockDeadline)
	if !ok || d.clk != clk {
		return time.Time{}, false
	}
	return d.at, true
}

type deadlineKey struct{}

type clockDeadline struct {
	clk Clock
	at  time.Time
}

// timeoutCtx is a context that a test clock's timeout ends: it reports
// that end as context.DeadlineExceeded.
type timeoutCtx struct {
	context.Context                 // inner, with the deadline as a value
	inner           context.Context // the cancel context
}

func (c *timeoutCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.inner) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// Value hides the inner context from the context package's shortcut for
// its own cancel contexts, so a context derived from this one learns its
// end from Err above (DeadlineExceeded), not from the inner context
// (Canceled). The price: such a derived context ends a moment after this
// one (the context package's goroutine tells it), not within
// Manual.Advance; tests wait for it (Done) as for any other goroutine.
func (c *timeoutCtx) Value(key any) any {
	v := c.Context.Value(key)
	if v == any(c.inner) {
		return nil
	}
	return v
}

// Manual is a clock that moves only when Advance or Set is called. Due
// callbacks run synchronously inside Advance, in deadline order (ties in
// scheduling order), so tests are deterministic.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*manualTimer
}

// NewManual returns a manual clock set to start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

type manualTimer struct {
	m    *Manual
	at   time.Time
	seq  uint64
	f    func()
	done bool
}

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Now returns the manual time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// AfterFunc schedules f to run when the clock has advanced by d.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	t := &manualTimer{m: m, at: m.now.Add(d), seq: m.seq, f: f}
	m.timers = append(m.timers, t)
	return t
}

// Pending returns the number of timers not yet fired or stopped.
func (m *Manual) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range m.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// Advance moves the clock forward by d, running every callback that falls
// due, in order, with the clock set to each callback's deadline.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	end := m.now.Add(d)
	m.mu.Unlock()
	for {
		m.mu.Lock()
		sort.SliceStable(m.timers, func(i, j int) bool {
			a, b := m.timers[i], m.timers[j]
			if !a.at.Equal(b.at) {
				return a.at.Before(b.at)
			}
			return a.seq < b.seq
		})
		var next *manualTimer
		live := m.timers[:0]
		for _, t := range m.timers {
			if t.done {
				continue
			}
			live = append(live, t)
			if next == nil && !t.at.After(end) {
				next = t
			}
		}
		m.timers = live
		if next == nil {
			m.now = end
			m.mu.Unlock()
			return
		}
		next.done = true
		if next.at.After(m.now) {
			m.now = next.at
		}
		m.mu.Unlock()
		next.f()
	}
}
