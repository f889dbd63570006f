package memnet_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/internal/transport/transporttest"
	"github.com/riakgo/riakgo/internal/wire"
)

var epoch = time.Unix(1_700_000_000, 0)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) *transporttest.Env {
		n := memnet.New(memnet.Options{Seed: 1, Clock: clock.NewManual(epoch), Logger: testlog.New(t)})
		a, b := n.Endpoint("a"), n.Endpoint("b")
		t.Cleanup(func() { a.Close(); b.Close() })
		return &transporttest.Env{A: a, B: b, RestartB: func(t *testing.T) transport.Transport {
			b.Close()
			nb := n.Endpoint("b")
			t.Cleanup(func() { nb.Close() })
			return nb
		}}
	})
}

// Test message: a sequence number and a payload.
type msg struct {
	Seq  int    `msgpack:"seq"`
	Data []byte `msgpack:"data"`
}

const (
	typCall = wire.MsgTest1
	typNote = wire.MsgTest3
)

// fixture is a network of named endpoints on a manual clock whose handlers
// echo calls and record one-way notes in arrival order.
type fixture struct {
	t   *testing.T
	clk *clock.Manual
	net *memnet.Network
	ep  map[transport.NodeID]*memnet.Endpoint

	mu    sync.Mutex
	notes []string // "to:seq" in handler order
	calls int
}

func newFixture(t *testing.T, seed uint64, names ...transport.NodeID) *fixture {
	f := &fixture{t: t, clk: clock.NewManual(epoch), ep: map[transport.NodeID]*memnet.Endpoint{}}
	f.net = memnet.New(memnet.Options{Seed: seed, Clock: f.clk, Logger: testlog.New(t)})
	for _, id := range names {
		f.start(id)
	}
	return f
}

func (f *fixture) start(id transport.NodeID) *memnet.Endpoint {
	e := f.net.Endpoint(id)
	f.ep[id] = e
	e.Handle(typCall, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var m msg
		if err := body.Decode(&m); err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.calls++
		f.mu.Unlock()
		m.Seq++
		return &m, nil
	})
	e.Handle(typNote, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var m msg
		if err := body.Decode(&m); err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.notes = append(f.notes, fmt.Sprintf("%s:%d:%s", id, m.Seq, m.Data))
		f.mu.Unlock()
		return nil, nil
	})
	f.t.Cleanup(func() { e.Close() })
	return e
}

func (f *fixture) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	f.t.Cleanup(cancel)
	return ctx
}

func (f *fixture) idle() {
	f.t.Helper()
	if err := f.net.WaitIdle(f.ctx()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) waitPending(n int) {
	f.t.Helper()
	if err := f.net.Wait(f.ctx(), func(s memnet.Stats) bool { return s.Pending == n }); err != nil {
		f.t.Fatalf("waiting for %d pending calls: %v", n, err)
	}
}

// waitDelayed waits until n calls are pending and n messages wait on the
// clock: a call counts as pending before its request is routed, and a
// clock advanced in between would not delay the request from the time
// the test expects.
func (f *fixture) waitDelayed(n int) {
	f.t.Helper()
	if err := f.net.Wait(f.ctx(), func(s memnet.Stats) bool { return s.Pending == n && s.Delayed == n }); err != nil {
		f.t.Fatalf("waiting for %d delayed calls: %v", n, err)
	}
}

func (f *fixture) handled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fixture) noteLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notes)
}

// goCall starts a call with no context deadline (the network's default
// timeout, on the manual clock) and returns its outcome channel.
func (f *fixture) goCall(from, to transport.NodeID, seq int) <-chan error {
	done := make(chan error, 1)
	go func() {
		var r msg
		err := f.ep[from].Call(context.Background(), to, typCall, &msg{Seq: seq}, &r)
		if err == nil && r.Seq != seq+1 {
			err = fmt.Errorf("response %+v to %d", r, seq)
		}
		done <- err
	}()
	return done
}

func (f *fixture) call(from, to transport.NodeID) error {
	done := f.goCall(from, to, 1)
	select {
	case err := <-done:
		return err
	case <-f.ctx().Done():
		f.t.Fatalf("call %s->%s hangs", from, to)
		return nil
	}
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("call did not return")
		return nil
	}
}

func notReturned(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("call returned early: %v", err)
	default:
	}
}

func TestPartitionBlocksAndHealRestores(t *testing.T) {
	f := newFixture(t, 1, "a", "b", "c")
	f.net.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b", "c"})

	// A call across the partition blocks until its deadline passes on the
	// network clock, and not before.
	done := f.goCall("a", "b", 1)
	f.waitPending(1)
	f.clk.Advance(transport.DefaultCallTimeout - time.Millisecond)
	f.idle()
	notReturned(t, done)
	f.clk.Advance(time.Millisecond)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call across a partition: %v", err)
	}
	// One-way messages across it are lost silently.
	if err := f.ep["b"].Send(f.ctx(), "a", typNote, &msg{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	f.idle()
	if got := f.noteLog(); len(got) != 0 {
		t.Fatalf("note crossed the partition: %v", got)
	}
	// Within a side, traffic flows.
	if err := f.call("b", "c"); err != nil {
		t.Fatalf("within a side: %v", err)
	}

	f.net.Heal()
	if err := f.call("a", "b"); err != nil {
		t.Fatalf("after heal: %v", err)
	}
	if s := f.net.Stats(); s.Dropped != 2 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPartitionImplicitGroup(t *testing.T) {
	f := newFixture(t, 1, "a", "b", "c", "d")
	f.net.Partition([]transport.NodeID{"a"})
	for _, c := range []struct {
		from, to transport.NodeID
		ok       bool
	}{{"b", "c", true}, {"c", "d", true}, {"a", "d", false}, {"d", "a", false}, {"a", "a", true}} {
		done := f.goCall(c.from, c.to, 1)
		if c.ok {
			if err := result(t, done); err != nil {
				t.Fatalf("%s->%s: %v", c.from, c.to, err)
			}
			continue
		}
		f.waitPending(1)
		f.clk.Advance(transport.DefaultCallTimeout)
		if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s->%s: %v", c.from, c.to, err)
		}
	}
}

func TestIsolate(t *testing.T) {
	f := newFixture(t, 1, "a", "b", "c")
	f.net.Isolate("c")
	if err := f.call("a", "b"); err != nil {
		t.Fatal(err)
	}
	done := f.goCall("c", "a", 1)
	f.waitPending(1)
	f.clk.Advance(transport.DefaultCallTimeout)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("isolated node's call: %v", err)
	}
	f.net.Heal()
	if err := f.call("c", "a"); err != nil {
		t.Fatal(err)
	}
}

func TestResponseLostToLatePartition(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	// Hold the request, partition, then release it: b handles the call but
	// the response cannot cross back.
	f.net.Hook(func(e transport.Envelope) memnet.Verdict {
		if !e.IsResponse() {
			return memnet.Hold
		}
		return memnet.Deliver
	})
	done := f.goCall("a", "b", 1)
	f.waitPending(1)
	f.idle()
	f.net.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"})
	if f.net.Release() != 1 {
		t.Fatal("nothing held")
	}
	f.idle()
	if f.handled() != 1 {
		t.Fatalf("handler ran %d times", f.handled())
	}
	notReturned(t, done)
	f.clk.Advance(transport.DefaultCallTimeout)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// dropPattern sends 200 one-way notes over a link dropping half of them
// and returns which arrived.
func dropPattern(t *testing.T, seed uint64) []string {
	f := newFixture(t, seed, "a", "b")
	f.net.SetDrop("a", "b", 0.5)
	for i := range 200 {
		if err := f.ep["a"].Send(f.ctx(), "b", typNote, &msg{Seq: i}); err != nil {
			t.Fatal(err)
		}
		f.idle() // one at a time: the RNG sees a fixed order
	}
	if s := f.net.Stats(); s.Dropped+s.Delivered != 200 {
		t.Fatalf("stats %+v", s)
	}
	got := f.noteLog()
	slices.Sort(got)
	return got
}

func TestDropProbabilityIsSeeded(t *testing.T) {
	p1, p2, p3 := dropPattern(t, 42), dropPattern(t, 42), dropPattern(t, 43)
	if len(p1) < 70 || len(p1) > 130 {
		t.Fatalf("%d of 200 delivered at p=0.5", len(p1))
	}
	if !slices.Equal(p1, p2) {
		t.Fatal("the same seed dropped different messages")
	}
	if slices.Equal(p1, p3) {
		t.Fatal("different seeds dropped the same messages")
	}
}

func TestDropWildcardsAndDirection(t *testing.T) {
	f := newFixture(t, 7, "a", "b", "c")
	f.net.SetDrop(memnet.Any, "b", 1)
	f.net.SetDrop("c", "b", 0.0001) // more specific: nearly never drops
	for _, c := range []struct {
		from, to transport.NodeID
		lost     bool
	}{{"a", "b", true}, {"b", "a", false}, {"c", "b", false}} {
		before := f.net.Stats().Dropped
		if err := f.ep[c.from].Send(f.ctx(), c.to, typNote, &msg{}); err != nil {
			t.Fatal(err)
		}
		f.idle()
		if lost := f.net.Stats().Dropped > before; lost != c.lost {
			t.Fatalf("%s->%s lost=%v, want %v", c.from, c.to, lost, c.lost)
		}
	}
	f.net.SetDrop(memnet.Any, "b", 0)
	if err := f.call("a", "b"); err != nil {
		t.Fatal(err)
	}
}

func TestDelayRunsOnTheClock(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.SetDelay("a", "b", 100*time.Millisecond)
	f.net.SetDelay("b", "a", 50*time.Millisecond)
	start := f.clk.Now()

	done := f.goCall("a", "b", 1)
	f.waitDelayed(1)
	f.idle()
	f.clk.Advance(99 * time.Millisecond)
	f.idle()
	if f.handled() != 0 || f.net.Stats().Delayed != 1 {
		t.Fatalf("request delivered early: calls %d stats %+v", f.handled(), f.net.Stats())
	}
	f.clk.Advance(time.Millisecond) // request arrives; the response leaves
	f.idle()
	if f.handled() != 1 {
		t.Fatalf("request not delivered at 100ms")
	}
	notReturned(t, done)
	f.clk.Advance(50 * time.Millisecond)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if rtt := f.clk.Now().Sub(start); rtt != 150*time.Millisecond {
		t.Fatalf("round trip took %v on the clock", rtt)
	}
}

func TestDelayLongerThanDeadline(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.SetDelay("a", "b", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // read as 1h on the clock
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.ep["a"].Call(ctx, "b", typCall, &msg{}, nil) }()
	f.waitDelayed(1)
	f.clk.Advance(time.Second) // delivered and answered: deadline far away
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	// A 10-minute deadline against a 20-minute delay.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel2()
	f.net.SetDelay("a", "b", 20*time.Minute)
	go func() { done <- f.ep["a"].Call(ctx2, "b", typCall, &msg{}, nil) }()
	f.waitDelayed(1)
	f.clk.Advance(11 * time.Minute)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline before delivery: %v", err)
	}
	f.clk.Advance(10 * time.Minute) // the late request is still handled
	f.idle()
	if f.handled() != 2 {
		t.Fatalf("handler ran %d times", f.handled())
	}
}

func TestHoldAndReleaseReorders(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.Hook(func(e transport.Envelope) memnet.Verdict {
		if e.Type == typNote {
			return memnet.Hold
		}
		return memnet.Deliver
	})
	for i := 1; i <= 4; i++ {
		if err := f.ep["a"].Send(f.ctx(), "b", typNote, &msg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	held := f.net.Held()
	if len(held) != 4 {
		t.Fatalf("held %v", held)
	}
	for i, e := range held {
		var m msg
		if err := e.Decode(&m); err != nil || m.Seq != i+1 || e.From != "a" || e.To != "b" || e.Flags != wire.FlagOneWay {
			t.Fatalf("held[%d] = %v %+v %v", i, e, m, err)
		}
	}
	// Calls are not held by this hook.
	if err := f.call("a", "b"); err != nil {
		t.Fatal(err)
	}
	// Deliver 3, then 1, drop 2, then 4.
	for _, i := range []int{2, 0} {
		if f.net.Release(held[i].ID) != 1 {
			t.Fatal("release")
		}
		f.idle()
	}
	if f.net.Discard(held[1].ID) != 1 || f.net.Release(held[1].ID) != 0 {
		t.Fatal("discard")
	}
	f.net.Release()
	f.idle()
	if got, want := f.noteLog(), []string{"b:3:", "b:1:", "b:4:"}; !slices.Equal(got, want) {
		t.Fatalf("delivery order %v, want %v", got, want)
	}
	if s := f.net.Stats(); s.Held != 0 || s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHookDropsResponses(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	var seen []string
	var mu sync.Mutex
	f.net.Hook(func(e transport.Envelope) memnet.Verdict {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s->%s %s %s", e.From, e.To, e.Type, e.Flags))
		mu.Unlock()
		if e.IsResponse() {
			return memnet.Drop
		}
		return memnet.Deliver
	})
	done := f.goCall("a", "b", 1)
	f.waitPending(1)
	f.idle()
	f.clk.Advance(transport.DefaultCallTimeout)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"a->b test1 request", "b->a test1 response"}; !slices.Equal(seen, want) {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
}

func TestMessagesAreCopiedThroughTheCodec(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.SetDelay("a", "b", time.Second)
	data := []byte("original")
	if err := f.ep["a"].Send(f.ctx(), "b", typNote, &msg{Seq: 1, Data: data}); err != nil {
		t.Fatal(err)
	}
	copy(data, "CHANGED!") // the sender reuses its buffer before delivery
	f.clk.Advance(time.Second)
	f.idle()
	if got := f.noteLog(); !slices.Equal(got, []string{"b:1:original"}) {
		t.Fatalf("receiver saw the sender's later write: %v", got)
	}
	// Unencodable bodies fail at the sender, as on TCP.
	if err := f.ep["a"].Send(f.ctx(), "b", typNote, map[string]any{"f": func() {}}); !errors.Is(err, wire.ErrEncode) {
		t.Fatalf("unencodable: %v", err)
	}
}

func TestRestartKeepsFaultsByName(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"})
	f.ep["b"].Close()
	// Across a partition a crashed node is indistinguishable from a slow
	// one: the call times out rather than being refused.
	done := f.goCall("a", "b", 1)
	f.waitPending(1)
	f.clk.Advance(transport.DefaultCallTimeout)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	f.net.Heal()
	if err := f.call("a", "b"); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("call to a crashed node: %v", err)
	}
	f.start("b")
	if err := f.call("a", "b"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestResponseInFlightSurvivesCrash(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.SetDelay("b", "a", time.Second) // responses wait on the clock
	done := f.goCall("a", "b", 1)
	f.waitPending(1)
	f.idle() // handled; the response is in flight on the clock
	f.ep["b"].Close()
	// The response was already on the wire: it still arrives.
	f.clk.Advance(time.Second)
	if err := result(t, done); err != nil {
		t.Fatalf("response sent before the crash: %v", err)
	}
}

// TestSynctest runs memnet with the real clock inside a synctest bubble:
// the deadline passes in the bubble's fake time, instantly.
func TestSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Options{Seed: 1})
		a, b := n.Endpoint("a"), n.Endpoint("b")
		defer a.Close()
		defer b.Close()
		b.Handle(typCall, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
			return &msg{Seq: 1}, nil
		})
		n.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"})
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Call(ctx, "b", typCall, &msg{}, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("partitioned call: %v", err)
		}
		if el := time.Since(start); el != 30*time.Second {
			t.Fatalf("fake time advanced %v", el)
		}
		n.Heal()
		n.SetDelay("a", "b", time.Second)
		var r msg
		if err := a.Call(context.Background(), "b", typCall, &msg{}, &r); err != nil || r.Seq != 1 {
			t.Fatalf("delayed call: %v", err)
		}
		synctest.Wait()
	})
}

func TestVerdictString(t *testing.T) {
	if memnet.Deliver.String() != "deliver" || memnet.Hold.String() != "hold" || memnet.Drop.String() != "drop" {
		t.Fatal("verdict names")
	}
}

// A deadline made with clock.WithTimeout on the network's clock bounds a
// call as a wall-clock deadline does: it ends the call when that much of
// the clock has passed (not at the network's default timeout), with
// DeadlineExceeded.
func TestCallBoundedByDeadlineOnTheClock(t *testing.T) {
	f := newFixture(t, 1, "a", "b")
	f.net.Isolate("b")
	ctx, cancel := clock.WithTimeout(context.Background(), f.clk, 3*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var r msg
		done <- f.ep["a"].Call(ctx, "b", typCall, &msg{Seq: 1}, &r)
	}()
	f.waitPending(1)
	f.clk.Advance(3*time.Second - time.Millisecond)
	notReturned(t, done)
	f.clk.Advance(time.Millisecond)
	if err := result(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline on the clock: %v", err)
	}
}
