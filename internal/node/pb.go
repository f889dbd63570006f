package node

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/riakgo/riakgo/internal/pb"
)

// pbFace is the node's Protocol Buffers API: a listener opened at start
// (so a taken port fails the start) and a pb.Server over the same
// kv.Service as the HTTP API.
type pbFace struct {
	ln  net.Listener
	srv *pb.Server
}

// listenPB opens the PB listener when cfg.PB is set.
func (n *Node) listenPB() error {
	if n.cfg.PB == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.PB)
	if err != nil {
		return fmt.Errorf("pb listen %s: %w", n.cfg.PB, err)
	}
	n.pb = &pbFace{ln: ln}
	return nil
}

// closePB closes the listener of a start that failed.
func (n *Node) closePB() {
	if n.pb != nil {
		n.pb.ln.Close()
	}
}

// servePB starts serving on the listener, once the service is up.
func (n *Node) servePB() {
	if n.pb == nil {
		return
	}
	cfg := pb.Config{Node: n.cfg.Name, Version: n.cfg.Version,
		Logger: n.log.With("component", "pb"), Observer: n.metrics, Security: secAdapter{n.sec}, Clock: n.clk}
	if n.tls != nil {
		cfg.TLS = n.tls.Server()
	}
	srv, err := pb.New(n.svc, cfg)
	if err != nil { // the configuration is built here; cannot fail
		panic(err)
	}
	n.pb.srv = srv
	go func() {
		if err := srv.Serve(n.pb.ln); err != nil && !errors.Is(err, pb.ErrServerClosed) {
			n.log.Error("pb server stopped", "err", err)
		}
	}()
	n.log.Info("protocol buffers API listening", "pb", n.pb.ln.Addr().String())
}

// shutdownPB stops the PB API as the HTTP server stops: no new
// connections, requests in progress answered (until ctx ends). The
// returned channel closes when it is done.
func (n *Node) shutdownPB(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if n.pb == nil || n.pb.srv == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		n.pb.srv.Shutdown(ctx)
	}()
	return done
}

// PBAddr returns the address of the Protocol Buffers API ("" when off).
func (n *Node) PBAddr() string {
	if n.pb == nil {
		return ""
	}
	return n.pb.ln.Addr().String()
}
