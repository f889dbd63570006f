package tcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// conn is one TCP connection after the handshake. An outbound conn carries
// this node's requests and their responses; an inbound conn the peer's.
type conn struct {
	t        *Transport
	nc       net.Conn
	peer     NodeID
	outbound bool
	out      chan []byte   // write queue (frames)
	slots    chan struct{} // outbound: in-flight calls; inbound: running handlers
	done     chan struct{} // closed by fail
	ctx      context.Context
	cancel   context.CancelFunc
	once     sync.Once
	err      error // why the conn failed; set before done is closed

	mu      sync.Mutex
	dead    bool
	pending map[uint64]chan<- result // outbound: calls waiting for responses
}

type result struct {
	frame wire.Frame
	err   error
}

func (t *Transport) newConn(nc net.Conn, peer NodeID, outbound bool) *conn {
	c := &conn{t: t, nc: nc, peer: peer, outbound: outbound,
		out:  make(chan []byte, t.cfg.WriteQueue),
		done: make(chan struct{})}
	if outbound {
		c.slots = make(chan struct{}, t.cfg.MaxInflight)
		c.pending = make(map[uint64]chan<- result)
	} else {
		c.slots = make(chan struct{}, t.cfg.MaxHandlers)
	}
	c.ctx, c.cancel = context.WithCancel(t.base)
	return c
}

// start registers c with the transport and starts its goroutines; it
// returns false (and closes c) if the transport has closed.
func (c *conn) start() bool {
	t := c.t
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.fail(transport.ErrClosed)
		return false
	}
	t.conns[c] = struct{}{}
	if c.outbound {
		t.st.outbound.Add(1)
	} else {
		t.st.inbound.Add(1)
	}
	t.wg.Add(2)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer t.wg.Done()
		if c.outbound {
			c.readResponses()
		} else {
			c.readRequests()
		}
	}()
	return true
}

// fail closes the connection once, with err as the reason given to the
// calls in flight on it.
func (c *conn) fail(err error) {
	c.once.Do(func() {
		t := c.t
		// Unregister first, so whoever sees the connection dead also sees
		// the gauges updated.
		t.mu.Lock()
		if _, ok := t.conns[c]; ok {
			delete(t.conns, c)
			if c.outbound {
				t.st.outbound.Add(-1)
			} else {
				t.st.inbound.Add(-1)
			}
			if !errors.Is(err, transport.ErrClosed) {
				t.st.lost.Add(1)
			}
		}
		t.mu.Unlock()
		c.err = err
		close(c.done)
		c.nc.Close()
		c.cancel()
		c.mu.Lock()
		c.dead = true
		for id, ch := range c.pending {
			ch <- result{err: err}
			delete(c.pending, id)
		}
		c.mu.Unlock()
		if !errors.Is(err, transport.ErrClosed) {
			t.log.Debug("tcp: connection lost", "peer", string(c.peer), "outbound", c.outbound, "err", err)
		}
	})
}

func (c *conn) lost(err error) {
	c.fail(fmt.Errorf("%w: %s: %v", transport.ErrConnLost, c.peer, err))
}

func (c *conn) isDead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *conn) register(id uint64, ch chan<- result) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	c.pending[id] = ch
	return true
}

func (c *conn) unregister(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// writeLoop writes queued frames, coalescing whatever is queued into one
// flush.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		var b []byte
		select {
		case b = <-c.out:
		case <-c.done:
			return
		}
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.t.cfg.WriteTimeout)); err != nil {
			c.lost(err)
			return
		}
		for b != nil {
			_, err := bw.Write(b)
			putBuf(b)
			if err != nil {
				c.lost(err)
				return
			}
			select {
			case b = <-c.out:
			default:
				b = nil
			}
		}
		if err := bw.Flush(); err != nil {
			c.lost(err)
			return
		}
	}
}

// readResponses delivers response frames to the calls waiting for them.
// Responses to calls that gave up are dropped.
func (c *conn) readResponses() {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		f, err := wire.ReadFrame(br, c.t.cfg.MaxFrameSize)
		if err != nil {
			c.lost(err)
			return
		}
		if f.Flags&wire.FlagResponse == 0 {
			c.lost(fmt.Errorf("protocol error: %s %s frame on an outbound connection", f.Type, f.Flags))
			return
		}
		c.mu.Lock()
		ch := c.pending[f.ReqID]
		delete(c.pending, f.ReqID)
		c.mu.Unlock()
		if ch != nil {
			ch <- result{frame: f}
		}
	}
}

// readRequests reads the peer's requests and runs a handler for each, at
// most MaxHandlers at a time: when all are busy it stops reading, and TCP
// flow control pushes back to the sender.
func (c *conn) readRequests() {
	t := c.t
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		f, err := wire.ReadFrame(br, t.cfg.MaxFrameSize)
		if err != nil {
			c.lost(err)
			return
		}
		if f.Flags&wire.FlagResponse != 0 || f.Type == wire.MsgHello {
			c.lost(fmt.Errorf("protocol error: %s %s frame on an inbound connection", f.Type, f.Flags))
			return
		}
		select {
		case c.slots <- struct{}{}:
		case <-c.done:
			return
		}
		t.wg.Add(1) // this goroutine is counted, so Add cannot race Wait
		go func() {
			defer t.wg.Done()
			defer func() { <-c.slots }()
			c.serve(f)
		}()
	}
}

func (c *conn) serve(f wire.Frame) {
	t := c.t
	t.st.handlers.Add(1)
	defer t.st.handlers.Add(-1)
	ctx := c.ctx
	if f.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(f.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}
	resp, err := t.mux.Serve(ctx, t.log, c.peer, f.Type, f.Body)
	if f.Flags&wire.FlagOneWay != 0 {
		if err != nil {
			t.log.Debug("tcp: one-way handler failed", "type", f.Type.String(), "from", string(c.peer), "err", err)
		}
		return
	}
	if ctx.Err() != nil {
		// The caller's deadline (which started before ours) has passed or
		// the connection is gone: nobody is waiting for the answer.
		return
	}
	buf := transport.EncodeResponse(getBuf(), f.ReqID, f.Type, resp, err)
	select {
	case c.out <- buf:
	case <-c.done:
		putBuf(buf)
	}
}
