package tcp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/internal/transport/transporttest"
	"github.com/riakgo/riakgo/internal/wire"
)

// book is an address book the tests fill as they start nodes.
type book struct {
	mu    sync.Mutex
	addrs map[transport.NodeID]string
}

func newBook() *book { return &book{addrs: map[transport.NodeID]string{}} }

func (b *book) set(id transport.NodeID, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addrs[id] = addr
}

func (b *book) resolve(id transport.NodeID) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.addrs[id]
	return a, ok
}

// start starts a node on addr ("127.0.0.1:0" for any port) and records it.
func start(t *testing.T, bk *book, id transport.NodeID, addr string, tweak func(*tcp.Config)) *tcp.Transport {
	t.Helper()
	cfg := tcp.DefaultConfig()
	cfg.Node = id
	cfg.ListenAddr = addr
	cfg.Resolve = bk.resolve
	cfg.Logger = testlog.New(t)
	if tweak != nil {
		tweak(&cfg)
	}
	tr, err := tcp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		bk.set(id, tr.Addr().String())
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) *transporttest.Env {
		bk := newBook()
		a := start(t, bk, "a", "127.0.0.1:0", nil)
		b := start(t, bk, "b", "127.0.0.1:0", nil)
		return &transporttest.Env{A: a, B: b, RestartB: func(t *testing.T) transport.Transport {
			addr := b.Addr().String()
			b.Close()
			return start(t, bk, "b", addr, nil)
		}}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := tcp.DefaultConfig()
	ok.Node = "a"
	ok.Resolve = func(transport.NodeID) (string, bool) { return "", false }
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Node, bad.Resolve, bad.PoolSize, bad.DialTimeout, bad.MaxFrameSize = "", nil, -1, -time.Second, wire.MaxFrameSize+1
	err := bad.Validate()
	for _, want := range []string{"Node is required", "Resolve is required", "PoolSize", "DialTimeout", "MaxFrameSize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to mention %q", err, want)
		}
	}
	if _, err := tcp.New(bad); err == nil {
		t.Fatal("New accepted a bad config")
	}
	// Zero values take the defaults.
	minimal := tcp.Config{Node: "a", Resolve: ok.Resolve}
	tr, err := tcp.New(minimal)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Addr() != nil {
		t.Fatal("no ListenAddr must mean no listener")
	}
}

type echo struct {
	Seq  int    `msgpack:"seq"`
	Data []byte `msgpack:"data"`
}

func handleEcho(tr transport.Transport) {
	tr.Handle(wire.MsgTest1, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var e echo
		if err := body.Decode(&e); err != nil {
			return nil, err
		}
		e.Seq++
		return &e, nil
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawHello dials addr, sends h and returns the answer frame.
func rawHello(t *testing.T, addr string, h wire.Hello) (wire.Frame, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	b, _ := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHello}, &h)
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	f, err := wire.ReadFrame(nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f, nc
}

func TestHandshakeRefusesUnsupportedVersion(t *testing.T) {
	bk := newBook()
	b := start(t, bk, "b", "127.0.0.1:0", nil)
	f, nc := rawHello(t, b.Addr().String(), wire.Hello{Version: 99, MinVersion: 98, Node: "future", Cluster: "riakgo"})
	var eb wire.ErrorBody
	if f.Type != wire.MsgHello || f.Flags != wire.FlagResponse|wire.FlagError || wire.DecodeBody(f.Body, &eb) != nil {
		t.Fatalf("answer %+v", f.Header)
	}
	if !strings.Contains(eb.Message, "unsupported protocol version") || !strings.Contains(eb.Message, "future speaks versions 98..99") {
		t.Fatalf("refusal message %q", eb.Message)
	}
	// Then the acceptor hangs up.
	if _, err := wire.ReadFrame(nc, 0); err == nil {
		t.Fatal("connection still open after refusal")
	}
	// The refusal is counted as the acceptor finishes with the connection,
	// which may be just after the client sees it close.
	testwait.Until(t, 10*time.Second, func() error {
		if s := b.Stats(); s.RefusedHandshakes != 1 || s.Inbound != 0 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	// A newer peer that still speaks our version is accepted.
	f, _ = rawHello(t, b.Addr().String(), wire.Hello{Version: 99, MinVersion: wire.ProtocolVersion, Node: "newer", Cluster: "riakgo"})
	var h wire.Hello
	if f.Flags != wire.FlagResponse || wire.DecodeBody(f.Body, &h) != nil || h.Node != "b" || h.Version != wire.ProtocolVersion {
		t.Fatalf("overlapping versions refused: %+v %+v", f.Header, h)
	}
}

func TestHandshakeRefusesOtherCluster(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "127.0.0.1:0", nil)
	start(t, bk, "b", "127.0.0.1:0", func(c *tcp.Config) { c.Cluster = "other" })
	err := a.Call(ctxT(t), "b", wire.MsgPing, nil, nil)
	if !errors.Is(err, transport.ErrUnreachable) || !errors.Is(err, wire.ErrWrongCluster) {
		t.Fatalf("call into another cluster: %v", err)
	}
}

// fakeNode accepts connections on a fresh port and answers every hello
// with reply.
func fakeNode(t *testing.T, reply wire.Hello) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				if _, err := wire.ReadFrame(nc, 0); err != nil {
					return
				}
				b, _ := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHello, Flags: wire.FlagResponse}, &reply)
				nc.Write(b)
				wire.ReadFrame(nc, 0) // wait for the dialer to hang up
			}()
		}
	}()
	return ln.Addr().String()
}

func TestDialerRefusesUnsupportedVersion(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", nil)
	bk.set("b", fakeNode(t, wire.Hello{Version: 7, MinVersion: 7, Node: "b", Cluster: "riakgo"}))
	err := a.Call(ctxT(t), "b", wire.MsgTest1, &echo{}, nil)
	if !errors.Is(err, wire.ErrVersion) || !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("dialing a node of an unsupported version: %v", err)
	}
	if !strings.Contains(err.Error(), "b speaks versions 7..7") {
		t.Fatalf("unclear refusal: %v", err)
	}
	// A node answering with another name (a stale address) is refused too.
	bk.set("c", fakeNode(t, wire.NewHello("d", "riakgo")))
	if err := a.Call(ctxT(t), "c", wire.MsgPing, nil, nil); !errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "is d, not c") {
		t.Fatalf("wrong node: %v", err)
	}
	if s := a.Stats(); s.DialFailures != 2 || s.Outbound != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnknownPeerAndRefusedDial(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", nil)
	if err := a.Call(ctxT(t), "nobody", wire.MsgPing, nil, nil); !errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "no address") {
		t.Fatalf("unknown peer: %v", err)
	}
	// A port nobody listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	bk.set("b", addr)
	if err := a.Call(ctxT(t), "b", wire.MsgPing, nil, nil); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("refused dial: %v", err)
	}
	// The node comes up on that address: the next call dials again.
	b := start(t, bk, "b", addr, nil)
	handleEcho(b)
	var r echo
	if err := a.Call(ctxT(t), "b", wire.MsgTest1, &echo{Seq: 1}, &r); err != nil || r.Seq != 2 {
		t.Fatalf("after the peer came up: %v", err)
	}
}

func TestReconnectAfterListenerRestart(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", nil)
	b := start(t, bk, "b", "127.0.0.1:0", nil)
	handleEcho(b)
	addr := b.Addr().String()
	for i := range 10 {
		var r echo
		if err := a.Call(ctxT(t), "b", wire.MsgTest1, &echo{Seq: i}, &r); err != nil {
			t.Fatal(err)
		}
	}
	if s := a.Stats(); s.Dials != 2 || s.Outbound != 2 {
		t.Fatalf("pool of 2: stats %+v", s)
	}
	b.Close()
	b2 := start(t, bk, "b", addr, nil)
	handleEcho(b2)
	// Each pooled connection notices the loss (at most one failed call
	// each, with ErrConnLost) and is redialled.
	failures := 0
	for i := range 10 {
		var r echo
		err := a.Call(ctxT(t), "b", wire.MsgTest1, &echo{Seq: i}, &r)
		switch {
		case err == nil:
		case errors.Is(err, transport.ErrConnLost):
			failures++
		default:
			t.Fatalf("call %d after restart: %v", i, err)
		}
	}
	if failures > 2 {
		t.Fatalf("%d calls failed after the restart", failures)
	}
	if s := a.Stats(); s.Dials != 4 || s.Outbound != 2 {
		t.Fatalf("after reconnect: stats %+v", s)
	}
}

func TestPoolMultiplexes(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", func(c *tcp.Config) { c.PoolSize = 3 })
	b := start(t, bk, "b", "127.0.0.1:0", nil)
	handleEcho(b)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r echo
			if err := a.Call(context.Background(), "b", wire.MsgTest1, &echo{Seq: g}, &r); err != nil || r.Seq != g+1 {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	if s := a.Stats(); s.Dials != 3 || s.Outbound != 3 || s.Calls != 200 || s.Inflight != 0 {
		t.Fatalf("stats %+v", s)
	}
	if s := b.Stats(); s.Inbound != 3 {
		t.Fatalf("peer stats %+v", s)
	}
}

// TestBackPressure: a peer whose handlers block makes callers wait and
// time out at their own deadlines, while the work queued anywhere stays
// bounded by the configured limits.
func TestBackPressure(t *testing.T) {
	const pool, inflight, handlers, callers = 2, 4, 3, 100
	bk := newBook()
	a := start(t, bk, "a", "", func(c *tcp.Config) {
		c.PoolSize, c.MaxInflight, c.WriteQueue = pool, inflight, 2
	})
	b := start(t, bk, "b", "127.0.0.1:0", func(c *tcp.Config) { c.MaxHandlers = handlers })
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before the transports close: Close waits for handlers
	var running, peak, started atomic.Int64
	b.Handle(wire.MsgTest2, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		started.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release // ignores its context: the worst kind of slow peer
		return nil, nil
	})
	handleEcho(b)

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			errs <- a.Call(ctx, "b", wire.MsgTest2, &echo{Seq: i, Data: make([]byte, 1024)}, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("caller of a blocked peer: %v, want DeadlineExceeded", err)
		}
	}
	// The peer never ran more handlers than its limit allows, however
	// many callers piled up, and the caller holds nothing for them now.
	if p := peak.Load(); p > pool*handlers {
		t.Fatalf("%d handlers ran at once; limit %d", p, pool*handlers)
	}
	if s := b.Stats(); s.Handlers > pool*handlers {
		t.Fatalf("peer stats %+v", s)
	}
	if s := a.Stats(); s.Inflight != 0 || s.Outbound != pool {
		t.Fatalf("caller stats %+v", s)
	}
	t.Logf("handlers started while blocked: %d (limit %d)", started.Load(), pool*handlers)

	// Once the peer recovers, the same connections serve again.
	unblock()
	var r echo
	if err := a.Call(ctxT(t), "b", wire.MsgTest1, &echo{Seq: 1}, &r); err != nil || r.Seq != 2 {
		t.Fatalf("after recovery: %v", err)
	}
	if s := a.Stats(); s.Dials != pool {
		t.Fatalf("recovery redialled: %+v", s)
	}
}

// TestSlowReaderIsDisconnected: a peer that accepts and handshakes but
// never reads is dropped after WriteTimeout, failing the calls on it.
func TestSlowReaderIsDisconnected(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", func(c *tcp.Config) { c.WriteTimeout = 200 * time.Millisecond; c.PoolSize = 1 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stuck := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		wire.ReadFrame(nc, 0)
		b, _ := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHello, Flags: wire.FlagResponse}, ptr(wire.NewHello("b", "riakgo")))
		nc.Write(b)
		stuck <- nc // and never read again
	}()
	bk.set("b", ln.Addr().String())
	big := &echo{Data: make([]byte, 8<<20)} // more than the socket buffers hold
	err = a.Call(ctxT(t), "b", wire.MsgTest1, big, nil)
	if !errors.Is(err, transport.ErrConnLost) {
		t.Fatalf("call to a peer that stopped reading: %v", err)
	}
	nc := <-stuck
	nc.Close()
	if s := a.Stats(); s.ConnsLost != 1 || s.Outbound != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func ptr[T any](v T) *T { return &v }

func TestHandlerSeesCallerDeadline(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", nil)
	b := start(t, bk, "b", "127.0.0.1:0", nil)
	got := make(chan time.Duration, 1)
	b.Handle(wire.MsgTest1, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			got <- -1
		} else {
			got <- time.Until(dl)
		}
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := a.Call(ctx, "b", wire.MsgTest1, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := <-got; d < 50*time.Minute || d > time.Hour {
		t.Fatalf("handler's deadline %v away, want about an hour", d)
	}
}

func TestCloseWhileDialing(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", nil)
	// A listener that never answers the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	bk.set("b", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- a.Call(context.Background(), "b", wire.MsgPing, nil, nil) }()
	nc, err := ln.Accept() // the dial reached the handshake
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	a.Close()
	select {
	case err := <-done:
		if !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("call during dial at Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not end the dial")
	}
}

func TestRemoteErrorText(t *testing.T) {
	bk := newBook()
	a := start(t, bk, "a", "", nil)
	b := start(t, bk, "b", "127.0.0.1:0", nil)
	b.Handle(wire.MsgTest1, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		return nil, fmt.Errorf("vnode 12: %w", errors.New("disk full"))
	})
	err := a.Call(ctxT(t), "b", wire.MsgTest1, nil, nil)
	if want := "riakgo/transport: b: test1: vnode 12: disk full"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("error text %q, want suffix %q", err, want)
	}
}
