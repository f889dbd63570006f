package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// Message types the suite uses (wire's test range).
const (
	// TypeEcho is answered with the request's Echo, Seq+1 and From set.
	TypeEcho = wire.MsgTest1
	// TypeBlock blocks its handler until the case releases it or the
	// handler's context ends.
	TypeBlock = wire.MsgTest2
	// TypeNote is a one-way message recorded by the receiver.
	TypeNote = wire.MsgTest3
	// TypeNone never has a handler.
	TypeNone = wire.MsgTest4
)

// Echo is the suite's sample message body.
type Echo struct {
	// Seq is incremented by the echo handler.
	Seq int `msgpack:"seq"`
	// Text selects a handler behaviour: "fail", "code", "panic", "nil".
	Text string `msgpack:"text"`
	// Data is echoed back unchanged.
	Data []byte `msgpack:"data"`
	// From is set by handlers to the sender they saw.
	From string `msgpack:"from"`
}

// Env is a pair of connected transports for one case. A and B must reach
// each other by their Local names.
type Env struct {
	// A and B are the two transports; both start with no handlers.
	A, B transport.Transport
	// RestartB closes B if it is still open and starts a fresh transport
	// for the same node (on TCP: the same address) with no handlers, and
	// returns it. The suite registers its handlers on it.
	RestartB func(t *testing.T) transport.Transport
}

// Factory builds a fresh Env for one case and registers its cleanup (closing
// both transports) with t.Cleanup.
type Factory func(t *testing.T) *Env

// Run runs every conformance case as a subtest, each on a fresh Env.
func Run(t *testing.T, newEnv Factory) {
	cases := []struct {
		name string
		f    func(t *testing.T, e *Env, p *peer)
	}{
		{"RoundTrip", testRoundTrip},
		{"BothDirections", testBothDirections},
		{"Ping", testPing},
		{"SelfCall", testSelfCall},
		{"OneWaySend", testOneWay},
		{"Concurrent", testConcurrent},
		{"HandlerErrorTyped", testHandlerError},
		{"BadRequest", testBadRequest},
		{"BadResponse", testBadResponse},
		{"UnknownType", testUnknownType},
		{"UnencodableRequest", testUnencodable},
		{"Deadline", testDeadline},
		{"Cancel", testCancel},
		{"CloseFailsInflight", testCloseFailsInflight},
		{"PeerCloseFailsInflight", testPeerCloseFailsInflight},
		{"AfterClose", testAfterClose},
		{"ClosedPeerUnreachable", testClosedPeer},
		{"LargeMessage", testLarge},
		{"PeerRestart", testPeerRestart},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			p := newPeer()
			p.install(e.A)
			p.install(e.B)
			t.Cleanup(p.releaseAll)
			c.f(t, e, p)
		})
	}
}

// peer holds the handlers' shared state.
type peer struct {
	entered chan transport.NodeID // a TypeBlock handler started (on node)
	release chan struct{}         // closed to let TypeBlock handlers return
	once    sync.Once
	notes   chan Echo
}

func newPeer() *peer {
	return &peer{entered: make(chan transport.NodeID, 1000), release: make(chan struct{}), notes: make(chan Echo, 1000)}
}

func (p *peer) releaseAll() { p.once.Do(func() { close(p.release) }) }

func (p *peer) install(tr transport.Transport) {
	tr.Handle(TypeEcho, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req Echo
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		switch req.Text {
		case "fail":
			return nil, fmt.Errorf("boom %d", req.Seq)
		case "code":
			return nil, fmt.Errorf("wrapped: %w", transport.Errorf(transport.CodeApp+7, "app failure %d", req.Seq))
		case "panic":
			panic("handler panic")
		case "nil":
			return nil, nil
		}
		req.Seq++
		req.From = string(from)
		return &req, nil
	})
	tr.Handle(TypeBlock, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		p.entered <- from
		select {
		case <-p.release:
			return &Echo{Text: "released"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	tr.Handle(TypeNote, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var n Echo
		if err := body.Decode(&n); err != nil {
			return nil, err
		}
		n.From = string(from)
		p.notes <- n
		return nil, nil
	})
}

// guard bounds every wait of the suite so a broken transport fails the
// test instead of hanging it. It is a safety net, not a timing assertion.
const guard = 20 * time.Second

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %v", what, guard)
		panic("unreachable")
	}
}

func ctxGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

func call(t *testing.T, tr transport.Transport, to transport.NodeID, req Echo) Echo {
	t.Helper()
	var resp Echo
	if err := tr.Call(ctxGuard(t), to, TypeEcho, &req, &resp); err != nil {
		t.Fatalf("call %s -> %s: %v", tr.Local(), to, err)
	}
	return resp
}

func testRoundTrip(t *testing.T, e *Env, _ *peer) {
	resp := call(t, e.A, e.B.Local(), Echo{Seq: 41, Text: "hello", Data: []byte{0, 1, 2}})
	want := Echo{Seq: 42, Text: "hello", Data: []byte{0, 1, 2}, From: string(e.A.Local())}
	if resp.Seq != want.Seq || resp.Text != want.Text || !bytes.Equal(resp.Data, want.Data) || resp.From != want.From {
		t.Fatalf("got %+v, want %+v", resp, want)
	}
	// A nil response body decodes as the zero value; a nil resp pointer
	// discards the body.
	if err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{Text: "nil"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{Text: "x"}, nil); err != nil {
		t.Fatal(err)
	}
}

func testBothDirections(t *testing.T, e *Env, _ *peer) {
	if r := call(t, e.B, e.A.Local(), Echo{Seq: 1}); r.Seq != 2 || r.From != string(e.B.Local()) {
		t.Fatalf("B->A: %+v", r)
	}
	if r := call(t, e.A, e.B.Local(), Echo{Seq: 5}); r.Seq != 6 || r.From != string(e.A.Local()) {
		t.Fatalf("A->B: %+v", r)
	}
}

func testPing(t *testing.T, e *Env, _ *peer) {
	if err := e.A.Call(ctxGuard(t), e.B.Local(), wire.MsgPing, nil, nil); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func testSelfCall(t *testing.T, e *Env, p *peer) {
	if r := call(t, e.A, e.A.Local(), Echo{Seq: 9, Data: []byte("self")}); r.Seq != 10 || r.From != string(e.A.Local()) || string(r.Data) != "self" {
		t.Fatalf("self call: %+v", r)
	}
	if err := e.A.Send(ctxGuard(t), e.A.Local(), TypeNote, &Echo{Seq: 3}); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, p.notes, "self note"); n.Seq != 3 || n.From != string(e.A.Local()) {
		t.Fatalf("self note: %+v", n)
	}
}

func testOneWay(t *testing.T, e *Env, p *peer) {
	for i := range 10 {
		if err := e.A.Send(ctxGuard(t), e.B.Local(), TypeNote, &Echo{Seq: i, Text: "note"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	for range 10 {
		n := recv(t, p.notes, "note")
		if n.Text != "note" || n.From != string(e.A.Local()) || seen[n.Seq] {
			t.Fatalf("note %+v (seen %v)", n, seen)
		}
		seen[n.Seq] = true
	}
	// One-way errors (unknown type, handler failure) are not reported.
	if err := e.A.Send(ctxGuard(t), e.B.Local(), TypeNone, &Echo{}); err != nil {
		t.Fatalf("one-way to a type without handler: %v", err)
	}
}

func testConcurrent(t *testing.T, e *Env, _ *peer) {
	const goroutines, each = 100, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq := g*1000 + i
				req := Echo{Seq: seq, Data: []byte(fmt.Sprintf("payload-%d", seq))}
				var resp Echo
				if err := e.A.Call(context.Background(), e.B.Local(), TypeEcho, &req, &resp); err != nil {
					errs <- err
					return
				}
				if resp.Seq != seq+1 || string(resp.Data) != string(req.Data) {
					errs <- fmt.Errorf("request %d got response %+v: responses crossed", seq, resp)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testHandlerError(t *testing.T, e *Env, _ *peer) {
	err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{Seq: 3, Text: "fail"}, new(Echo))
	var re *transport.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, transport.ErrRemote) {
		t.Fatalf("handler error: %v (%T), want *RemoteError", err, err)
	}
	if re.Code != transport.CodeHandler || !strings.Contains(re.Message, "boom 3") || re.Node != e.B.Local() || re.Type != TypeEcho {
		t.Fatalf("remote error %+v", re)
	}
	if errors.Is(err, transport.ErrUnknownType) || errors.Is(err, transport.ErrBadRequest) {
		t.Fatalf("handler error matches the wrong sentinel: %v", err)
	}
	err = e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{Seq: 4, Text: "code"}, new(Echo))
	if !errors.As(err, &re) || re.Code != transport.CodeApp+7 || !strings.Contains(re.Message, "app failure 4") {
		t.Fatalf("application code: %v", err)
	}
	err = e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{Text: "panic"}, new(Echo))
	if !errors.As(err, &re) || re.Code != transport.CodeHandler || !strings.Contains(re.Message, "panicked") {
		t.Fatalf("panicking handler: %v", err)
	}
	// The peer still serves after a panic.
	call(t, e.A, e.B.Local(), Echo{})
}

func testBadRequest(t *testing.T, e *Env, _ *peer) {
	err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, "not an Echo", new(Echo))
	if !errors.Is(err, transport.ErrBadRequest) || !errors.Is(err, transport.ErrRemote) {
		t.Fatalf("undecodable request: %v", err)
	}
}

func testBadResponse(t *testing.T, e *Env, _ *peer) {
	var wrong []int
	err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{}, &wrong)
	if !errors.Is(err, transport.ErrBadResponse) {
		t.Fatalf("undecodable response: %v", err)
	}
}

func testUnknownType(t *testing.T, e *Env, _ *peer) {
	err := e.A.Call(ctxGuard(t), e.B.Local(), TypeNone, &Echo{}, new(Echo))
	if !errors.Is(err, transport.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Code != transport.CodeUnknownType {
		t.Fatalf("unknown type error %v", err)
	}
	// A type this release has never heard of is answered the same way.
	if err := e.A.Call(ctxGuard(t), e.B.Local(), wire.MsgType(200), nil, nil); !errors.Is(err, transport.ErrUnknownType) {
		t.Fatalf("unregistered number: %v", err)
	}
}

func testUnencodable(t *testing.T, e *Env, _ *peer) {
	err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, make(chan int), nil)
	if !errors.Is(err, wire.ErrEncode) {
		t.Fatalf("unencodable request: %v", err)
	}
	if err := e.A.Send(ctxGuard(t), e.B.Local(), TypeNote, func() {}); !errors.Is(err, wire.ErrEncode) {
		t.Fatalf("unencodable one-way: %v", err)
	}
}

func testDeadline(t *testing.T, e *Env, p *peer) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := e.A.Call(ctx, e.B.Local(), TypeBlock, &Echo{}, new(Echo))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked call: %v, want DeadlineExceeded", err)
	}
	recv(t, p.entered, "blocked handler")
	// A context that has already expired fails without sending.
	if err := e.A.Call(ctx, e.B.Local(), TypeEcho, &Echo{}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
	// The connection still works.
	p.releaseAll()
	call(t, e.A, e.B.Local(), Echo{})
}

func testCancel(t *testing.T, e *Env, p *peer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.A.Call(ctx, e.B.Local(), TypeBlock, &Echo{}, nil) }()
	recv(t, p.entered, "blocked handler")
	cancel()
	if err := recv(t, done, "cancelled call"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}

func testCloseFailsInflight(t *testing.T, e *Env, p *peer) {
	const n = 5
	done := make(chan error, n)
	for range n {
		go func() { done <- e.A.Call(context.Background(), e.B.Local(), TypeBlock, &Echo{}, nil) }()
	}
	for range n {
		recv(t, p.entered, "blocked handler")
	}
	if err := e.A.Close(); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := recv(t, done, "in-flight call"); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("in-flight call at Close: %v, want ErrClosed", err)
		}
	}
}

func testPeerCloseFailsInflight(t *testing.T, e *Env, p *peer) {
	done := make(chan error, 1)
	go func() { done <- e.A.Call(context.Background(), e.B.Local(), TypeBlock, &Echo{}, nil) }()
	recv(t, p.entered, "blocked handler")
	if err := e.B.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "in-flight call"); !errors.Is(err, transport.ErrConnLost) {
		t.Fatalf("in-flight call when the peer closed: %v, want ErrConnLost", err)
	}
}

func testAfterClose(t *testing.T, e *Env, _ *peer) {
	call(t, e.A, e.B.Local(), Echo{})
	if err := e.A.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.A.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.A.Call(ctxGuard(t), e.B.Local(), TypeEcho, &Echo{}, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	if err := e.A.Send(ctxGuard(t), e.B.Local(), TypeNote, &Echo{}); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("send after Close: %v", err)
	}
}

// unreachableSoon calls until the transport reports ErrUnreachable: a
// connection's loss may be noticed by the first call that uses it
// (ErrConnLost), after which the peer is known to be down.
func unreachableSoon(t *testing.T, tr transport.Transport, to transport.NodeID) {
	t.Helper()
	for range 100 {
		err := tr.Call(ctxGuard(t), to, TypeEcho, &Echo{}, nil)
		switch {
		case errors.Is(err, transport.ErrUnreachable):
			return
		case errors.Is(err, transport.ErrConnLost):
			continue
		default:
			t.Fatalf("call to a closed peer: %v, want ErrUnreachable", err)
		}
	}
	t.Fatal("calls to a closed peer never reported ErrUnreachable")
}

func testClosedPeer(t *testing.T, e *Env, _ *peer) {
	call(t, e.A, e.B.Local(), Echo{})
	if err := e.B.Close(); err != nil {
		t.Fatal(err)
	}
	unreachableSoon(t, e.A, e.B.Local())
	// A one-way message may still be queued on a connection not yet known
	// to be dead (delivery is best-effort), but sends soon report the peer.
	for range 100 {
		err := e.A.Send(ctxGuard(t), e.B.Local(), TypeNote, &Echo{})
		if errors.Is(err, transport.ErrUnreachable) {
			return
		}
		if err != nil {
			t.Fatalf("send to a closed peer: %v", err)
		}
	}
	t.Fatal("sends to a closed peer never reported ErrUnreachable")
}

func testLarge(t *testing.T, e *Env, _ *peer) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	r := call(t, e.A, e.B.Local(), Echo{Seq: 1, Data: data})
	if !bytes.Equal(r.Data, data) {
		t.Fatal("1 MiB body corrupted")
	}
	r = call(t, e.B, e.A.Local(), Echo{Seq: 1, Data: data})
	if !bytes.Equal(r.Data, data) {
		t.Fatal("1 MiB body corrupted (B->A)")
	}
}

func testPeerRestart(t *testing.T, e *Env, p *peer) {
	call(t, e.A, e.B.Local(), Echo{})
	b := e.RestartB(t)
	if b.Local() != e.B.Local() {
		t.Fatalf("restarted B is %s, want %s", b.Local(), e.B.Local())
	}
	p.install(b)
	// Connections to the old B fail the calls that find them dead (at most
	// one per pooled connection, with ErrConnLost) and are redialled; after
	// that, calls succeed.
	failures, streak := 0, 0
	for streak < 10 {
		var r Echo
		err := e.A.Call(ctxGuard(t), b.Local(), TypeEcho, &Echo{Seq: streak}, &r)
		switch {
		case err == nil && r.Seq == streak+1:
			streak++
		case err == nil:
			t.Fatalf("after restart: %+v", r)
		case errors.Is(err, transport.ErrConnLost) || errors.Is(err, transport.ErrUnreachable):
			streak = 0
			if failures++; failures > 8 {
				t.Fatalf("calls keep failing after the peer restarted: %v", err)
			}
		default:
			t.Fatalf("call across the restart: %v", err)
		}
	}
	if r := call(t, b, e.A.Local(), Echo{Seq: 1}); r.Seq != 2 {
		t.Fatalf("restarted B calling A: %+v", r)
	}
}
