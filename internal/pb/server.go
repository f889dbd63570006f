package pb

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("riakgo/pb: server closed")

// Observer records each request: the request message's name, whether it
// succeeded (no RpbErrorResp) and the time taken. Implementations must be
// safe for concurrent use.
type Observer interface {
	PBRequest(msg string, ok bool, d time.Duration)
}

// Config configures a Server.
type Config struct {
	// Node is the node's name (RpbGetServerInfoResp, preference lists).
	Node string
	// Version is riakgo's version (RpbGetServerInfoResp).
	Version string
	// MaxFrame bounds a request frame in bytes (default DefaultMaxFrame);
	// a longer one gets RpbErrorResp and the connection is closed.
	MaxFrame int
	// MaxConns bounds open connections (default 1024); a connection over
	// the limit gets RpbErrorResp and is closed.
	MaxConns int
	// IdleTimeout closes a connection that starts no request for this
	// long (default 10 minutes).
	IdleTimeout time.Duration
	// ReadTimeout bounds the reading of a frame once its first byte came
	// (default 30 s): a client that sends half a frame and stops is cut off.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of each response frame (default 60 s).
	WriteTimeout time.Duration
	// Logger receives connection errors; nil discards.
	Logger *slog.Logger
	// Observer records requests; nil means none.
	Observer Observer
	// Rand returns random 64-bit values (generated keys); nil uses
	// math/rand/v2. It must be safe for concurrent use.
	Rand func() uint64
	// Security, if set, is the security model (security.go): when it is
	// enabled, connections need STARTTLS and RpbAuthReq first.
	Security riakapi.Security
	// TLS is the config of STARTTLS (the node's certificate); without it
	// a node with security on refuses STARTTLS.
	TLS *tls.Config
	// AuthFailDelay delays the answer to a failed RpbAuthReq (default
	// 1 s; Riak waits 5 s).
	AuthFailDelay time.Duration
	// Clock runs the requests' timeouts (the timeout field of RpbGetReq,
	// RpbListKeysReq, RpbIndexReq, …), the deadline of an authentication
	// and the delay after a failed one, and stamps data-type operations
	// (a register's timestamp); nil uses the wall clock. Socket deadlines
	// (IdleTimeout, ReadTimeout, WriteTimeout) and request durations are
	// wall time.
	Clock clock.Clock
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxFrame:     DefaultMaxFrame,
		MaxConns:     1024,
		IdleTimeout:  10 * time.Minute,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: time.Minute,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxFrame < 16:
		return fmt.Errorf("riakgo/pb: MaxFrame %d is too small", c.MaxFrame)
	case c.MaxConns < 1:
		return fmt.Errorf("riakgo/pb: MaxConns must be at least 1")
	case c.IdleTimeout <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0:
		return fmt.Errorf("riakgo/pb: timeouts must be positive")
	}
	return nil
}

type nopObserver struct{}

func (nopObserver) PBRequest(string, bool, time.Duration) {}

// Server serves Riak's Protocol Buffers API over a kv.Client. Serve may
// be called for several listeners; Shutdown stops them all.
type Server struct {
	c   kv.Client
	dc  DatatypeClient // nil if c has no data types
	cfg Config
	log *slog.Logger
	obs Observer

	ctx    context.Context // cancelled by Close: requests in flight stop
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup // connection goroutines
}

// New returns a server over c. Zero fields of cfg take DefaultConfig's
// values.
func New(c kv.Client, cfg Config) (*Server, error) {
	def := DefaultConfig()
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = def.MaxFrame
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = def.MaxConns
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = def.IdleTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = def.ReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = def.WriteTimeout
	}
	if cfg.AuthFailDelay == 0 {
		cfg.AuthFailDelay = time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Uint64
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	s := &Server{c: c, cfg: cfg, log: cfg.Logger, obs: cfg.Observer,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.dc, _ = c.(DatatypeClient)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Serve accepts connections on l until Shutdown or Close; it then returns
// ErrServerClosed. It closes l.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	backoff := time.Duration(0)
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("pb accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := &conn{s: s, nc: nc}
		s.mu.Lock()
		switch {
		case s.closing:
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		case len(s.conns) >= s.cfg.MaxConns:
			s.mu.Unlock()
			s.refuse(nc)
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// refuse answers a connection over the limit with an error and closes it.
func (s *Server) refuse(nc net.Conn) {
	go func() {
		defer nc.Close()
		b, _ := AppendFrame(nil, riakpb.CodeErrorResp, errorResp(fmt.Sprintf("Too many connections: this node serves at most %d Protocol Buffers connections", s.cfg.MaxConns)))
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		nc.Write(b)
	}()
}

// Shutdown stops accepting, closes idle connections at once and the others
// as soon as their request in progress is answered, and waits for them
// until ctx is done; then it closes whatever is left (Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		if c.idle {
			c.nc.SetReadDeadline(time.Unix(1, 0))
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops accepting, cancels the requests in progress and closes every
// connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	return nil
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// conn is one client connection. Requests are read and answered one at a
// time, in order, by the connection's goroutine.
type conn struct {
	s    *Server
	nc   net.Conn // guarded by s.mu when replaced (STARTTLS)
	br   *bufio.Reader
	bw   *bufio.Writer
	out  []byte // encoding buffer, reused
	in   []byte // body buffer, reused
	idle bool   // guarded by s.mu: waiting for a request

	clientID []byte // RpbSetClientIdReq's value (kept, unused, as Riak 2.x)

	tls          bool              // STARTTLS done
	user         riakapi.Principal // authenticated user (security on)
	authFailures int
}

// setIdle marks the connection idle (waiting for the next request) or
// busy; it returns false when the server is shutting down and an idle
// connection should close.
func (c *conn) setIdle(idle bool) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.idle = idle
	return !c.s.closing
}

func (c *conn) serve() {
	s := c.s
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	c.br = bufio.NewReaderSize(c.nc, 32<<10)
	br := c.br
	c.bw = bufio.NewWriterSize(c.nc, 32<<10)
	for {
		if !c.setIdle(true) {
			return
		}
		c.nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		_, err := br.Peek(1)
		if !c.setIdle(false) || err != nil {
			return
		}
		c.nc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		code, body, err := ReadFrame(br, s.cfg.MaxFrame, c.in)
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) {
				// The rest of the stream cannot be framed: answer and close.
				c.send(riakpb.CodeErrorResp, errorResp(invalidFrameText(fe)))
				c.flush()
			} else if !errors.Is(err, net.ErrClosed) {
				s.log.Debug("pb connection: read failed", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		if cap(body) <= 1<<20 {
			c.in = body[:0] // keep small buffers for the next request
		} else {
			c.in = nil
		}
		start := time.Now()
		var ok bool
		handled, err := c.secure(code, body)
		if !handled {
			ok, err = c.handle(code, body)
		}
		s.obs.PBRequest(code.String(), ok, time.Since(start))
		if err == nil {
			err = c.flush()
		}
		if err != nil {
			s.log.Debug("pb connection: write failed", "remote", c.nc.RemoteAddr().String(), "err", err)
			return
		}
	}
}

func invalidFrameText(fe *FrameError) string {
	if fe.Length == 0 {
		return "Invalid frame: length 0 (a frame holds at least the message code); closing the connection"
	}
	return fmt.Sprintf("Invalid frame: %d bytes is more than the limit of %d bytes; closing the connection", fe.Length, fe.Max)
}

// send writes one response frame (buffered; flush sends it).
func (c *conn) send(code riakpb.Code, m riakpb.Message) error {
	var err error
	c.out, err = AppendFrame(c.out[:0], code, m)
	if err != nil {
		c.out, _ = AppendFrame(c.out[:0], riakpb.CodeErrorResp, errorResp("Error:\nencoding the response failed: "+err.Error()))
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, werr := c.bw.Write(c.out)
	if cap(c.out) > 1<<20 {
		c.out = nil
	}
	return werr
}

// flush sends what send buffered.
func (c *conn) flush() error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	return c.bw.Flush()
}

func errorResp(msg string) *riakpb.RpbErrorResp {
	code := uint32(0)
	return &riakpb.RpbErrorResp{Errmsg: []byte(msg), Errcode: &code}
}
