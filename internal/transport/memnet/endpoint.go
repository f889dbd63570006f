package memnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// Endpoint is one node's transport on a Network.
type Endpoint struct {
	n      *Network
	id     NodeID
	mux    transport.Mux
	ctx    context.Context // handlers' context; cancelled by Close
	cancel context.CancelFunc

	// Guarded by n.mu.
	closed  bool
	pending map[uint64]*pendingCall // calls this endpoint made, by request id
	serving map[uint64]NodeID       // calls it is handling: request id → caller
}

var _ transport.Transport = (*Endpoint)(nil)

type pendingCall struct {
	ch    chan result // buffered; receives exactly one result
	timer clock.Timer
}

type result struct {
	frame wire.Frame
	err   error
}

// Local returns the endpoint's node name.
func (e *Endpoint) Local() NodeID { return e.id }

// Handle registers h for typ; see transport.Transport.
func (e *Endpoint) Handle(typ wire.MsgType, h transport.Handler) { e.mux.Handle(typ, h) }

// encode builds the frame for a message and decodes it again, so every
// message crosses the real codec and the receiver owns fresh memory.
func encode(from, to NodeID, h wire.Header, body any) (transport.Envelope, error) {
	b, err := wire.AppendFrame(nil, h, body)
	if err != nil {
		return transport.Envelope{}, err
	}
	f, _, err := wire.DecodeFrame(b)
	if err != nil {
		return transport.Envelope{}, fmt.Errorf("memnet: codec does not round-trip its own frame: %w", err)
	}
	return transport.Envelope{From: from, To: to, Type: f.Type, Flags: f.Flags, ReqID: f.ReqID, Body: f.Body}, nil
}

func (e *Endpoint) wrap(verb string, to NodeID, typ wire.MsgType, err error) error {
	return fmt.Errorf("memnet: %s %s %s->%s: %w", verb, typ, e.id, to, err)
}

// Call sends req to node to and waits for the response; see
// transport.Transport and the package documentation for how deadlines run
// on the network's clock.
func (e *Endpoint) Call(ctx context.Context, to NodeID, typ wire.MsgType, req, resp any) error {
	if err := ctx.Err(); err != nil {
		return e.wrap("call", to, typ, err)
	}
	timeout := e.n.callTimeout
	if at, ok := clock.DeadlineOn(ctx, e.n.clk); ok { // a deadline on the network's clock
		if timeout = at.Sub(e.n.clk.Now()); timeout <= 0 {
			return e.wrap("call", to, typ, context.DeadlineExceeded)
		}
	} else if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return e.wrap("call", to, typ, context.DeadlineExceeded)
		}
	}
	id := e.n.reqSeq.Add(1)
	env, err := encode(e.id, to, wire.Header{Type: typ, ReqID: id, TimeoutMillis: millis(timeout)}, req)
	if err != nil {
		return e.wrap("call", to, typ, err)
	}
	pc := &pendingCall{ch: make(chan result, 1)}
	n := e.n
	n.mu.Lock()
	if e.closed {
		n.mu.Unlock()
		return e.wrap("call", to, typ, transport.ErrClosed)
	}
	e.pending[id] = pc
	n.stats.Pending++
	n.stats.Busy++ // until the request is routed: WaitIdle must not miss it
	pc.timer = n.clk.AfterFunc(timeout, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		e.finishLocked(id, result{err: fmt.Errorf("deadline of %v passed on the network clock: %w", timeout, context.DeadlineExceeded)})
	})
	n.notifyLocked()
	n.mu.Unlock()

	err = n.send(env)
	n.mu.Lock()
	n.stats.Busy--
	if err != nil {
		e.finishLocked(id, result{})
	}
	n.notifyLocked()
	n.mu.Unlock()
	if err != nil {
		return e.wrap("call", to, typ, err)
	}
	select {
	case r := <-pc.ch:
		if r.err != nil {
			return e.wrap("call", to, typ, r.err)
		}
		return transport.DecodeResponse(to, r.frame, resp)
	case <-ctx.Done():
		n.mu.Lock()
		e.finishLocked(id, result{})
		n.mu.Unlock()
		return e.wrap("call", to, typ, ctx.Err())
	}
}

// Send sends msg one way to node to; see transport.Transport. It returns
// transport.ErrUnreachable at once if to is not running and reachable.
func (e *Endpoint) Send(ctx context.Context, to NodeID, typ wire.MsgType, msg any) error {
	if err := ctx.Err(); err != nil {
		return e.wrap("send", to, typ, err)
	}
	env, err := encode(e.id, to, wire.Header{Type: typ, Flags: wire.FlagOneWay}, msg)
	if err != nil {
		return e.wrap("send", to, typ, err)
	}
	e.n.mu.Lock()
	closed := e.closed
	e.n.mu.Unlock()
	if closed {
		return e.wrap("send", to, typ, transport.ErrClosed)
	}
	if err := e.n.send(env); err != nil {
		return e.wrap("send", to, typ, err)
	}
	return nil
}

// Close crashes the endpoint; see the package documentation. It does not
// wait for running handlers.
func (e *Endpoint) Close() error {
	n := e.n
	n.mu.Lock()
	if e.closed {
		n.mu.Unlock()
		return nil
	}
	e.closed = true
	if n.eps[e.id] == e {
		delete(n.eps, e.id)
	}
	for id := range e.pending {
		e.finishLocked(id, result{err: transport.ErrClosed})
	}
	for id, caller := range e.serving {
		if c := n.eps[caller]; c != nil {
			c.finishLocked(id, result{err: fmt.Errorf("%w: %s closed while handling the call", transport.ErrConnLost, e.id)})
		}
	}
	clear(e.serving)
	n.notifyLocked()
	n.mu.Unlock()
	e.cancel()
	return nil
}

// finishLocked completes pending call id with r, once; later results are
// ignored.
func (e *Endpoint) finishLocked(id uint64, r result) {
	pc, ok := e.pending[id]
	if !ok {
		return
	}
	delete(e.pending, id)
	e.n.stats.Pending--
	pc.timer.Stop()
	pc.ch <- r
	e.n.notifyLocked()
}

// handle runs the handler for a delivered request or one-way message and
// sends the response of a call.
func (e *Endpoint) handle(env transport.Envelope, isCall bool) {
	n := e.n
	defer func() {
		n.mu.Lock()
		n.stats.Busy--
		n.notifyLocked()
		n.mu.Unlock()
	}()
	resp, err := e.mux.Serve(e.ctx, n.log, env.From, env.Type, env.Body)
	if !isCall {
		if err != nil {
			n.log.Debug("memnet: one-way handler failed", "msg", env.String(), "err", err)
		}
		return
	}
	b := transport.EncodeResponse(nil, env.ReqID, env.Type, resp, err)
	f, _, derr := wire.DecodeFrame(b)
	if derr != nil {
		panic(fmt.Sprintf("memnet: codec does not round-trip its own response: %v", derr))
	}
	n.mu.Lock()
	_, serving := e.serving[env.ReqID]
	delete(e.serving, env.ReqID)
	n.mu.Unlock()
	if !serving { // this endpoint closed meanwhile: a crashed node sends nothing
		return
	}
	out := transport.Envelope{From: e.id, To: env.From, Type: f.Type, Flags: f.Flags, ReqID: f.ReqID, Body: f.Body}
	if err := n.send(out); err != nil && !errors.Is(err, transport.ErrUnreachable) {
		n.log.Debug("memnet: response not sent", "msg", out.String(), "err", err)
	}
}

func millis(d time.Duration) uint32 {
	ms := d.Milliseconds()
	if ms <= 0 {
		return 1
	}
	return uint32(min(ms, 1<<32-1))
}
