package evq_test

import (
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/internal/evq"
)

func ev(t membership.EventType, id membership.NodeID, inc uint64) membership.Event {
	return membership.Event{Type: t, Member: membership.Member{ID: id, Meta: membership.Meta{Incarnation: inc}}}
}

// recv reads one event, failing after a generous deadline (the pump is a
// goroutine once the buffer has overflowed).
func recv(t *testing.T, q *evq.Queue) membership.Event {
	t.Helper()
	select {
	case e, ok := <-q.C():
		if !ok {
			t.Fatal("channel closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return membership.Event{}
}

func TestDirectWhileRoom(t *testing.T) {
	q := evq.New(4)
	defer q.Close()
	q.Push(ev(membership.EventJoin, "a", 1))
	q.Push(ev(membership.EventJoin, "b", 1))
	// With room in the buffer, Push delivers synchronously.
	if got := len(q.C()); got != 2 {
		t.Fatalf("buffered %d events, want 2", got)
	}
	if e := recv(t, q); e.Member.ID != "a" {
		t.Fatalf("first event %v", e)
	}
}

// Events that wait while the consumer is behind are coalesced per member,
// and each member's events arrive in order, ending with its latest state.
// The pump takes the oldest waiting event out of the queue while it waits
// for room, so b's first event is coalesced or already held by the pump,
// depending on scheduling: both outcomes are right, and both are checked.
func TestOverflowCoalescesPerMemberAndKeepsOrder(t *testing.T) {
	q := evq.New(1)
	defer q.Close()
	q.Push(ev(membership.EventJoin, "a", 1))   // in the channel
	q.Push(ev(membership.EventJoin, "b", 1))   // waits (or is held by the pump)
	q.Push(ev(membership.EventJoin, "c", 1))   // waits
	q.Push(ev(membership.EventUpdate, "b", 2)) // replaces b's join, stays a join; or waits
	q.Push(ev(membership.EventFail, "c", 1))   // replaces c's join
	q.Push(ev(membership.EventUpdate, "a", 3)) // waits behind b and c
	var want []membership.Event
	switch q.Coalesced() {
	case 2:
		want = []membership.Event{
			ev(membership.EventJoin, "a", 1),
			ev(membership.EventJoin, "b", 2),
			ev(membership.EventFail, "c", 1),
			ev(membership.EventUpdate, "a", 3),
		}
	case 1: // the pump held b's join when b's update came
		want = []membership.Event{
			ev(membership.EventJoin, "a", 1),
			ev(membership.EventJoin, "b", 1),
			ev(membership.EventFail, "c", 1),
			ev(membership.EventUpdate, "b", 2),
			ev(membership.EventUpdate, "a", 3),
		}
	default:
		t.Fatalf("Coalesced = %d, want 2 (or 1 if the pump held b's join)", q.Coalesced())
	}
	for i, w := range want {
		if e := recv(t, q); e != w {
			t.Fatalf("event %d = %v, want %v (coalesced %d)", i, e, w, q.Coalesced())
		}
	}
}

func TestPushNeverBlocks(t *testing.T) {
	q := evq.New(1)
	defer q.Close()
	// Nobody reads: thousands of pushes for a few members must return.
	for i := range 10000 {
		q.Push(ev(membership.EventUpdate, membership.NodeID(rune('a'+i%5)), uint64(i)))
	}
	if q.Coalesced() == 0 {
		t.Fatal("expected coalescing")
	}
}

func TestCloseClosesChannelAfterBuffered(t *testing.T) {
	q := evq.New(2)
	q.Push(ev(membership.EventJoin, "a", 1))
	q.Push(ev(membership.EventJoin, "b", 1))
	q.Push(ev(membership.EventJoin, "c", 1)) // waiting: discarded by Close
	q.Close()
	q.Close()
	q.Push(ev(membership.EventJoin, "d", 1)) // no-op
	var got []membership.NodeID
	for e := range q.C() {
		got = append(got, e.Member.ID)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("after Close read %v, want [a b]", got)
	}
}
