package evq

import (
	"sync"
	"sync/atomic"

	"github.com/riakgo/riakgo/internal/membership"
)

// Queue delivers events to a buffered channel without blocking Push. Its
// methods are safe for concurrent use.
type Queue struct {
	out  chan membership.Event
	done chan struct{}
	wg   sync.WaitGroup

	coalesced atomic.Uint64

	mu      sync.Mutex
	waiting []membership.Event // events not yet in out; at most one per member
	pumping bool               // a pump goroutine runs (and may hold an event)
	closed  bool
}

// New returns a queue whose channel buffers size events (at least 1).
func New(size int) *Queue {
	if size < 1 {
		size = 1
	}
	return &Queue{out: make(chan membership.Event, size), done: make(chan struct{})}
}

// C returns the channel events are delivered on. It is closed by Close.
func (q *Queue) C() <-chan membership.Event { return q.out }

// Push queues ev. It never blocks on the consumer. After Close it does
// nothing.
func (q *Queue) Push(ev membership.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.waiting) == 0 && !q.pumping {
		select {
		case q.out <- ev:
			return
		default:
		}
	}
	for i, w := range q.waiting {
		if w.Member.ID == ev.Member.ID {
			q.waiting[i] = coalesce(w, ev)
			q.coalesced.Add(1)
			return
		}
	}
	q.waiting = append(q.waiting, ev)
	if !q.pumping {
		q.pumping = true
		q.wg.Add(1)
		go q.pump()
	}
}

// coalesce merges a waiting event with a newer one for the same member.
func coalesce(old, ev membership.Event) membership.Event {
	if old.Type == membership.EventJoin && ev.Type == membership.EventUpdate {
		ev.Type = membership.EventJoin // the consumer has not seen the join yet
	}
	return ev
}

func (q *Queue) pump() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if q.closed || len(q.waiting) == 0 {
			q.pumping = false
			q.mu.Unlock()
			return
		}
		ev := q.waiting[0]
		q.waiting = append(q.waiting[:0], q.waiting[1:]...)
		q.mu.Unlock()
		select {
		case q.out <- ev:
		case <-q.done:
			return
		}
	}
}

// Coalesced returns how many events were replaced by newer ones while
// the consumer was behind.
func (q *Queue) Coalesced() uint64 { return q.coalesced.Load() }

// Close discards the events still waiting, stops the pump and closes the
// channel; events already in the channel can still be read. Close is
// idempotent.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	q.waiting = nil
	close(q.done)
	q.mu.Unlock()
	q.wg.Wait()
	close(q.out)
}
