// Package tcp is riakgo's internode transport over TCP: the product
// implementation of transport.Transport, picked by the node wiring.
//
// # Connections
//
// Each node listens on its internode address (8099 by default) and dials
// its peers, whose addresses it learns from Config.Resolve (the membership
// layer supplies it). Connections carry requests in one direction: the
// dialer sends requests and one-way messages, the acceptor sends responses.
// Towards each peer a node keeps a small pool of connections
// (Config.PoolSize, 2 by default), dialled lazily and picked round-robin;
// each multiplexes many calls in flight, matched to responses by request
// id. A connection that fails is dropped from the pool and redialled by the
// next call that needs it; the calls that were in flight on it fail with
// transport.ErrConnLost. Calls are never retried.
//
// # Handshake
//
// The first frame in each direction is a wire.Hello: protocol version
// range, node name and cluster name. The acceptor refuses a dialer whose
// versions do not overlap its own, or from another cluster, with an error
// frame saying why, and closes the connection; the dialer refuses an
// acceptor the same way and also one that answers with another node's name
// (a stale address). A refused dial fails with an error matching both
// transport.ErrUnreachable and wire.ErrVersion (or wire.ErrWrongCluster).
//
// # Authentication
//
// With a cluster secret (Config.Secret), the Hellos carry a challenge: the
// dialer sends a random nonce and the identifiers of the secrets it holds;
// the acceptor picks the first of its own secrets the dialer also holds,
// sends its own nonce and an HMAC over both nonces, both names, the
// cluster name and a label for its role; the dialer checks it and answers
// with its own HMAC (MsgHelloAuth, another label), which the acceptor
// checks and acknowledges. Only then does the connection carry messages: a
// peer without the secret gets "authentication failed" and nothing else,
// and no handler ever runs for it. Holding several secrets (the primary
// first) lets a cluster rotate its secret without downtime; SetSecret
// swaps them in a running transport. The secret authenticates peers but
// does not encrypt: Config.ServerTLS and Config.ClientTLS add mutual TLS
// under the handshake (docs/security.md). At most Config.MaxHandshakes
// inbound connections are in their handshake at once; more are closed.
//
// # Deadlines and back-pressure
//
// Every call has a deadline (the context's, or Config.CallTimeout), sent
// in the frame so the handler's context carries it too. Memory is bounded
// at every stage, and a slow peer makes callers wait rather than queue
// without limit: a call takes one of Config.MaxInflight slots of its
// connection before encoding its request, encoded frames wait in a queue
// of Config.WriteQueue frames, and the acceptor runs at most
// Config.MaxHandlers handlers per connection, after which it stops reading
// and TCP flow control pushes back to the sender. A caller blocked at any
// of these stages gives up with context.DeadlineExceeded when its deadline
// passes. A peer that stops reading altogether is dropped after
// Config.WriteTimeout.
//
// Close fails calls in flight with transport.ErrClosed, closes every
// connection, cancels running handlers' contexts and waits for them.
package tcp
