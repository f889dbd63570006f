package transport

import (
	"context"
	"fmt"
	"time"

	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/ring"
)

// NodeID names a node: the same type the ring uses for owners.
type NodeID = ring.NodeID

// DefaultCallTimeout is the deadline implementations give a Call whose
// context has none, unless configured otherwise.
const DefaultCallTimeout = 5 * time.Second

// Transport sends messages to other nodes and dispatches the messages it
// receives to registered handlers. All methods are safe for concurrent use.
type Transport interface {
	// Local returns the name of the node this transport speaks for.
	Local() NodeID

	// Call sends req (a value msgpack encodes, usually a pointer to the
	// owner's request struct) as message typ to node to, waits for the
	// response and decodes it into resp (a pointer; nil discards the
	// body). It blocks until the response arrives, the deadline passes
	// (the context's, or the implementation's default if it has none),
	// the context is cancelled, or the transport closes. req is encoded
	// before Call sends anything and is not retained. Errors: see the
	// package documentation.
	Call(ctx context.Context, to NodeID, typ wire.MsgType, req, resp any) error

	// Send sends msg as a one-way message typ to node to. It returns once
	// the message is handed to the network (queued on a connection), not
	// when it is handled; delivery is best-effort and the handler's
	// response and error are discarded. It blocks only while the
	// connection's queue is full (back-pressure), at most until ctx ends.
	// It fails with ErrUnreachable if the peer cannot be reached.
	Send(ctx context.Context, to NodeID, typ wire.MsgType, msg any) error

	// Handle registers h for messages of type typ, replacing any earlier
	// handler; a nil h removes it. Messages of a type with no handler are
	// answered with a RemoteError matching ErrUnknownType (MsgPing is
	// answered without a handler). Register handlers before peers start
	// calling; registering later is allowed and takes effect for messages
	// dispatched afterwards.
	Handle(typ wire.MsgType, h Handler)

	// Close stops the transport: it stops accepting messages, fails calls
	// in flight with ErrClosed, cancels the contexts of running handlers
	// and closes connections. Calls made after Close fail with ErrClosed.
	// Whether Close waits for running handlers to return is up to the
	// implementation (tcp waits; memnet does not). Close is idempotent.
	Close() error
}

// Handler handles one message. from is the sending node; body is the
// message's msgpack body, which the handler decodes into its own type with
// body.Decode. body is valid only until the handler returns; decoded values
// do not alias it.
//
// For a Call, resp (encoded with the wire codec; nil is fine) is sent back,
// or err if it is non-nil: the caller receives a *RemoteError carrying
// err's text and, if err is or wraps one made by Errorf, its code. For a
// one-way message resp and err are discarded (errors are logged at debug
// level).
//
// Handlers run concurrently, each in its own goroutine. ctx is cancelled
// when the transport closes and, where the implementation knows the
// caller's deadline, carries it; a handler should return when ctx ends.
type Handler func(ctx context.Context, from NodeID, body Body) (resp any, err error)

// Body is a message's msgpack body as a handler receives it. It is owned
// by the transport; handlers must not retain it.
type Body []byte

// Decode decodes the body into v (a pointer). Errors wrap ErrBadRequest
// and wire.ErrMalformed; a handler that returns such an error answers the
// caller with a RemoteError matching ErrBadRequest.
func (b Body) Decode(v any) error {
	if err := wire.DecodeBody(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// Envelope is one message in flight, as fault-injection hooks and delivery
// logs see it (memnet's Hook). Body is the encoded msgpack body: read it
// with Decode, do not modify it.
type Envelope struct {
	// ID is the network's sequence number for the message (memnet uses it
	// to name held messages).
	ID uint64
	// From and To are the sending and receiving nodes.
	From, To NodeID
	// Type is the message type; a response carries its request's type.
	Type wire.MsgType
	// Flags say whether this is a request, one-way message, response or
	// error response.
	Flags wire.Flags
	// ReqID pairs a response with its request.
	ReqID uint64
	// Body is the msgpack body.
	Body []byte
}

// Decode decodes the envelope's body into v.
func (e Envelope) Decode(v any) error { return Body(e.Body).Decode(v) }

// IsResponse reports whether the envelope answers a call.
func (e Envelope) IsResponse() bool { return e.Flags&wire.FlagResponse != 0 }

// String renders the envelope for logs and golden files:
// "#3 a->b test1 request 7".
func (e Envelope) String() string {
	return fmt.Sprintf("#%d %s->%s %s %s %d", e.ID, e.From, e.To, e.Type, e.Flags, e.ReqID)
}
