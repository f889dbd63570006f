// Package transport is the contract for internode messages: request/response
// calls and one-way sends between riakgo nodes, addressed by node name.
//
// A Transport carries typed messages. Each message type (wire.MsgType, from
// the append-only registry in internal/wire) has one owner package — kv,
// the process groups, handoff, internal/metadata, internal/node — which
// defines the body as a plain Go struct with msgpack tags and registers a
// Handler for it with Handle. The transport encodes bodies with the wire
// codec; a handler decodes its own body type with Body.Decode.
//
// # Guarantees
//
//   - Every Call has a deadline: the caller's context deadline, or the
//     implementation's default call timeout if the context has none. A call
//     that has not been answered by then fails with an error wrapping
//     context.DeadlineExceeded.
//   - Errors are classified with errors.Is: ErrClosed (this transport was
//     closed), ErrUnreachable (the request was certainly not delivered),
//     ErrConnLost (the connection failed after the request may have been
//     delivered: the outcome is unknown), context.DeadlineExceeded or
//     context.Canceled, and *RemoteError for a failure reported by the
//     peer (which also matches ErrRemote, and ErrUnknownType or
//     ErrBadRequest by code).
//   - There is no ordering guarantee between messages, even between two
//     messages from the same sender to the same peer, and no retry: a
//     caller that wants at-least-once delivery retries itself.
//   - Handlers run concurrently, each in its own goroutine.
//   - Calls and sends to the local node (Transport.Local) are dispatched
//     locally, still through the codec.
//
// # Implementations
//
// internal/transport/tcp is the product transport: length-prefixed frames
// over a small pool of multiplexed TCP connections per peer, with a
// version handshake and back-pressure. internal/transport/memnet is an
// in-memory network of endpoints driven by an injected clock and a seeded
// RNG, which can partition, isolate, drop, delay and hold messages, for
// tests of whole clusters in one process. Both pass the conformance suite
// in internal/transport/transporttest. Mux, EncodeResponse and
// DecodeResponse are shared plumbing for implementations.
//
// Only the node wiring (internal/node) and the test cluster pick an
// implementation; kv, handoff and internal/metadata see this interface.
package transport
