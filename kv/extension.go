package kv

import (
	"context"
	"errors"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// The narrow API that services built on kv use (process groups, kv/pg):
// a write of an update that travels as data (Update, RegisterUpdate), the
// choice of a key's coordinator, an internode message of their own
// (Handle, Call, RegisterError), background work that Close waits for
// (Go), and the node's name, clock and default timeout. Reads go through
// Client and FetchDatatype.

// Node returns this node's name.
func (s *Service) Node() ring.NodeID { return s.cfg.Node }

// Clock returns the service's clock (the one every timeout reads).
func (s *Service) Clock() clock.Clock { return s.cfg.Clock }

// Timeout returns the default request timeout (Config.Timeout).
func (s *Service) Timeout() time.Duration { return s.cfg.Timeout }

// Coordinator returns the node that coordinates writes of k with n
// replicas: the first primary of its preference list that is up, else
// this node (which then coordinates on a fallback vnode).
func (s *Service) Coordinator(k Key, n int) ring.NodeID {
	targets, _ := s.prefList(k, n)
	for _, t := range targets {
		if t.Primary {
			return t.Node
		}
	}
	return s.cfg.Node
}

// Update coordinates the update u of k at W/DW/PW, as UpdateDatatype does
// for a data-type operation, and returns the stored object when
// o.ReturnBody is set. The coordinating vnode may be on another node:
// u's kind must be registered there (RegisterUpdate).
func (s *Service) Update(ctx context.Context, k Key, u *Update, o Options) (*siblings.Object, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return nil, err
	}
	return s.write(k, props, nil, siblings.Meta{}, nil, u, o)
}

// Go runs f in its own goroutine as background work of the service: Close
// waits for it, and f's context ends when Close begins. It returns false,
// and does not run f, once the service is closing.
func (s *Service) Go(f func(ctx context.Context)) bool {
	if !s.startBackground() {
		return false
	}
	go func() {
		defer s.doneBackground()
		f(s.base)
	}()
	return true
}

// Handle serves the internode message typ with h, as background work of
// the service (Close waits for it; a closed service refuses it). An error
// h returns that wraps a sentinel registered with RegisterError (or one of
// kv's own) reaches the caller of Call as that sentinel. Without a
// transport (a single node) Handle registers nothing and returns false.
func (s *Service) Handle(typ wire.MsgType, h transport.Handler) bool {
	if s.tr == nil {
		return false
	}
	s.tr.Handle(typ, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		resp, err := h(ctx, from, body)
		if err != nil {
			return nil, s.toRemote(err)
		}
		return resp, nil
	}))
	return true
}

// Call sends typ to node to and decodes the answer into resp. An error
// the handler returned with a registered code comes back as its typed
// error; any other failure (no transport, the node unreachable, the call
// timed out, an uncoded handler error) wraps ErrUnavailable.
func (s *Service) Call(ctx context.Context, to ring.NodeID, typ wire.MsgType, req, resp any) error {
	if s.tr == nil {
		return UserErrorf(ErrUnavailable, "%s on %s: this node has no transport", typ, to)
	}
	err := s.tr.Call(ctx, to, typ, req, resp)
	if err == nil {
		return nil
	}
	var re *transport.RemoteError
	if errors.As(err, &re) {
		if typed := s.fromRemote(err); typed != err {
			return typed
		}
		return UserErrorf(ErrUnavailable, "%s on %s: %s", typ, to, re.Message)
	}
	return UserErrorf(ErrUnavailable, "%s on %s: %v", typ, to, err)
}

// Validate checks the key: a bucket and a key, neither over MaxKeySize
// (ErrBadKey).
func (k Key) Validate() error { return validateKey(k) }
