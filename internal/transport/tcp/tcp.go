package tcp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// Transport is the TCP transport. Its methods are safe for concurrent use.
type Transport struct {
	cfg     Config
	log     *slog.Logger
	mux     transport.Mux
	hello   wire.Hello
	ln      net.Listener
	base    context.Context // cancelled by Close: dials, local handlers
	stop    context.CancelFunc
	reqID   atomic.Uint64
	st      counters
	keys    atomic.Pointer[secret.Keyring] // nil: no cluster secret
	shaking atomic.Int64                   // inbound connections in their handshake

	mu     sync.Mutex
	closed bool
	peers  map[NodeID]*peer
	conns  map[*conn]struct{} // open connections, both directions
	wg     sync.WaitGroup     // every goroutine the transport starts
}

var _ transport.Transport = (*Transport)(nil)

// New validates cfg, listens on cfg.ListenAddr (unless empty) and returns
// the running transport.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Transport{
		cfg:   cfg,
		log:   cfg.Logger,
		hello: wire.NewHello(string(cfg.Node), cfg.Cluster),
		peers: make(map[NodeID]*peer),
		conns: make(map[*conn]struct{}),
	}
	t.keys.Store(cfg.Secret.Keyring())
	t.base, t.stop = context.WithCancel(context.Background())
	if cfg.ListenAddr != "" {
		ln, err := net.Listen("tcp", cfg.ListenAddr)
		if err != nil {
			t.stop()
			return nil, fmt.Errorf("riakgo/transport/tcp: listen: %w", err)
		}
		t.ln = ln
		t.wg.Add(1)
		go t.acceptLoop()
	}
	return t, nil
}

// Addr returns the address the transport listens on (nil if it does not).
func (t *Transport) Addr() net.Addr {
	if t.ln == nil {
		return nil
	}
	return t.ln.Addr()
}

// SetSecret replaces the cluster secrets new connections prove and
// check (a rotation: see docs/security.md). Open connections stay.
// Replacing a set by an empty one turns authentication off.
func (t *Transport) SetSecret(s secret.Set) { t.keys.Store(s.Keyring()) }

// Local returns this node's name.
func (t *Transport) Local() NodeID { return t.cfg.Node }

// Handle registers h for typ; see transport.Transport.
func (t *Transport) Handle(typ wire.MsgType, h transport.Handler) { t.mux.Handle(typ, h) }

// spawn runs f in a goroutine the transport tracks, unless it is closed.
func (t *Transport) spawn(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func wrap(verb string, to NodeID, typ wire.MsgType, err error) error {
	return fmt.Errorf("tcp: %s %s to %s: %w", verb, typ, to, err)
}

func millisUntil(dl time.Time) uint32 {
	ms := time.Until(dl).Milliseconds()
	if ms <= 0 {
		return 1
	}
	return uint32(min(ms, 1<<32-1))
}

// Call sends req to node to and waits for the response; see
// transport.Transport and the package documentation.
func (t *Transport) Call(ctx context.Context, to NodeID, typ wire.MsgType, req, resp any) error {
	t.st.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return wrap("call", to, typ, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.cfg.CallTimeout)
		defer cancel()
	}
	if t.isClosed() {
		return wrap("call", to, typ, transport.ErrClosed)
	}
	if to == t.cfg.Node {
		return t.callLocal(ctx, typ, req, resp)
	}
	c, err := t.conn(ctx, to)
	if err != nil {
		return wrap("call", to, typ, err)
	}
	// Back-pressure, first stage: an in-flight slot on the connection.
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return wrap("call", to, typ, ctx.Err())
	case <-c.done:
		return wrap("call", to, typ, c.err)
	}
	t.st.inflight.Add(1)
	defer func() {
		<-c.slots
		t.st.inflight.Add(-1)
	}()
	id := t.reqID.Add(1)
	dl, _ := ctx.Deadline()
	buf, err := wire.AppendFrame(getBuf(), wire.Header{Type: typ, ReqID: id, TimeoutMillis: millisUntil(dl)}, req)
	if err != nil {
		putBuf(buf)
		return wrap("call", to, typ, err)
	}
	ch := make(chan result, 1)
	if !c.register(id, ch) {
		putBuf(buf)
		return wrap("call", to, typ, c.err)
	}
	// Second stage: the connection's write queue.
	select {
	case c.out <- buf:
	case <-ctx.Done():
		c.unregister(id)
		putBuf(buf)
		return wrap("call", to, typ, ctx.Err())
	case <-c.done:
		putBuf(buf)
		return wrap("call", to, typ, c.err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return wrap("call", to, typ, r.err)
		}
		return transport.DecodeResponse(to, r.frame, resp)
	case <-ctx.Done():
		c.unregister(id)
		return wrap("call", to, typ, ctx.Err())
	}
}

// Send sends msg one way to node to; see transport.Transport.
func (t *Transport) Send(ctx context.Context, to NodeID, typ wire.MsgType, msg any) error {
	t.st.sends.Add(1)
	if err := ctx.Err(); err != nil {
		return wrap("send", to, typ, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.cfg.CallTimeout)
		defer cancel()
	}
	if t.isClosed() {
		return wrap("send", to, typ, transport.ErrClosed)
	}
	if to == t.cfg.Node {
		return t.sendLocal(typ, msg)
	}
	buf, err := wire.AppendFrame(getBuf(), wire.Header{Type: typ, Flags: wire.FlagOneWay}, msg)
	if err != nil {
		putBuf(buf)
		return wrap("send", to, typ, err)
	}
	c, err := t.conn(ctx, to)
	if err != nil {
		putBuf(buf)
		return wrap("send", to, typ, err)
	}
	select {
	case c.out <- buf:
		return nil
	case <-ctx.Done():
		putBuf(buf)
		return wrap("send", to, typ, ctx.Err())
	case <-c.done:
		putBuf(buf)
		return wrap("send", to, typ, c.err)
	}
}

// localRequest encodes a message to this node and decodes it again, so
// local calls cross the codec like remote ones.
func localRequest(h wire.Header, body any) (wire.Frame, error) {
	b, err := wire.AppendFrame(nil, h, body)
	if err != nil {
		return wire.Frame{}, err
	}
	f, _, err := wire.DecodeFrame(b)
	return f, err
}

// handlerContext returns a context cancelled when parent ends or the
// transport closes.
func (t *Transport) handlerContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(t.base, cancel)
	return ctx, func() { stop(); cancel() }
}

func (t *Transport) callLocal(ctx context.Context, typ wire.MsgType, req, resp any) error {
	me := t.cfg.Node
	f, err := localRequest(wire.Header{Type: typ, ReqID: t.reqID.Add(1)}, req)
	if err != nil {
		return wrap("call", me, typ, err)
	}
	ch := make(chan wire.Frame, 1)
	hctx, cancel := t.handlerContext(ctx)
	if !t.spawn(func() {
		defer cancel()
		t.st.handlers.Add(1)
		defer t.st.handlers.Add(-1)
		r, herr := t.mux.Serve(hctx, t.log, me, typ, f.Body)
		out, _, _ := wire.DecodeFrame(transport.EncodeResponse(nil, f.ReqID, typ, r, herr))
		ch <- out
	}) {
		cancel()
		return wrap("call", me, typ, transport.ErrClosed)
	}
	select {
	case out := <-ch:
		return transport.DecodeResponse(me, out, resp)
	case <-ctx.Done():
		return wrap("call", me, typ, ctx.Err())
	case <-t.base.Done():
		return wrap("call", me, typ, transport.ErrClosed)
	}
}

func (t *Transport) sendLocal(typ wire.MsgType, msg any) error {
	me := t.cfg.Node
	f, err := localRequest(wire.Header{Type: typ, Flags: wire.FlagOneWay}, msg)
	if err != nil {
		return wrap("send", me, typ, err)
	}
	hctx, cancel := t.handlerContext(context.Background())
	if !t.spawn(func() {
		defer cancel()
		t.st.handlers.Add(1)
		defer t.st.handlers.Add(-1)
		if _, err := t.mux.Serve(hctx, t.log, me, typ, f.Body); err != nil {
			t.log.Debug("tcp: one-way handler failed", "type", typ.String(), "from", string(me), "err", err)
		}
	}) {
		cancel()
		return wrap("send", me, typ, transport.ErrClosed)
	}
	return nil
}

// Close stops the transport; see transport.Transport. It waits for every
// goroutine the transport started, running handlers included.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	conns := make([]*conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	if t.ln != nil {
		t.ln.Close()
	}
	// Connections first, so that handlers cancelled below cannot send
	// their error responses: the callers see the connection go.
	for _, c := range conns {
		c.fail(transport.ErrClosed)
	}
	t.stop()
	t.wg.Wait()
	return nil
}

// Stats is a snapshot of the transport's counters and gauges.
type Stats struct {
	// Calls and Sends count Call and Send invocations.
	Calls, Sends uint64
	// Dials counts successful dials (handshake included); DialFailures
	// the failed ones.
	Dials, DialFailures uint64
	// RefusedHandshakes counts inbound connections refused at the
	// handshake.
	RefusedHandshakes uint64
	// ConnsLost counts connections that failed while open.
	ConnsLost uint64
	// Outbound and Inbound are the open connections now.
	Outbound, Inbound int
	// Inflight is the number of calls holding an in-flight slot now.
	Inflight int
	// Handlers is the number of handlers running now.
	Handlers int
}

type counters struct {
	calls, sends, dials, dialFailures, refused, lost atomic.Uint64
	outbound, inbound, inflight, handlers            atomic.Int64
}

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Calls: t.st.calls.Load(), Sends: t.st.sends.Load(),
		Dials: t.st.dials.Load(), DialFailures: t.st.dialFailures.Load(),
		RefusedHandshakes: t.st.refused.Load(), ConnsLost: t.st.lost.Load(),
		Outbound: int(t.st.outbound.Load()), Inbound: int(t.st.inbound.Load()),
		Inflight: int(t.st.inflight.Load()), Handlers: int(t.st.handlers.Load()),
	}
}

// Frame buffers are pooled; big ones are left to the garbage collector.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBuf = 64 << 10

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuf {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}
