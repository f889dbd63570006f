package http

import (
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Limits that keep one client from exhausting a node (issue 12):
//
//   - request bodies are read as they arrive (never allocated from a
//     Content-Length), up to MaxBodySize, within BodyTimeout;
//   - every write of a response, streams included, must make progress
//     within WriteTimeout (a client that stops reading is cut off, and the
//     listing it pinned stops);
//   - at most MaxInflight requests run at once (more get Riak's overload
//     503), not counting process-group routes, which hold watches and
//     connection-leased joins open and have caps of their own;
//   - at most MaxHeaders header fields (Riak's 1000) and a link walk's
//     answer at most MaxWalkBytes;
//   - LimitListener caps the connections a listener holds.

// Defaults of the limits.
const (
	DefaultBodyTimeout  = time.Minute
	DefaultWriteTimeout = time.Minute
	DefaultMaxInflight  = 1024
	DefaultMaxWalkBytes = 64 << 20
)

// deadlineBody clears the connection's read deadline once the body has
// been read to its end: the deadline bounds the upload, not what the
// handler does afterwards (net/http's background read, which notices a
// client that goes away, runs under the same deadline).
type deadlineBody struct {
	io.ReadCloser
	rc   *nethttp.ResponseController
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}

// hasBody reports whether a request carries a body to read.
func hasBody(r *nethttp.Request) bool {
	return r.Body != nil && r.Body != nethttp.NoBody && r.ContentLength != 0
}

// LimitListener returns a listener that holds at most n connections at
// once: one over the limit is answered with a 503 (when plain is set; a TLS
// listener's is closed without a word) and closed.
func LimitListener(l net.Listener, n int, plain bool) net.Listener {
	return &limitListener{Listener: l, max: int64(n), plain: plain}
}

type limitListener struct {
	net.Listener
	max   int64
	open  atomic.Int64
	plain bool
}

var overloadReply = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 63\r\n\r\nToo many connections: this node holds no more HTTP connections\n")

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			if l.plain {
				go func() {
					c.SetWriteDeadline(time.Now().Add(time.Second))
					c.Write(overloadReply)
					c.Close()
				}()
			} else {
				c.Close()
			}
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// errWalkTooLarge ends a link walk whose answer would pass MaxWalkBytes.
var errWalkTooLarge = errors.New("riakgo/http: link walk answer too large")
