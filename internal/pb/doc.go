// Package pb serves Riak's Protocol Buffers API (port 8087) over the same
// kv.Client as package http: Riak's framing (a 4-byte big-endian length, a
// 1-byte message code, a protobuf body; frame.go), many requests per
// connection answered in order, RpbErrorResp for every failure, a limit on
// connections and on frame size, read and idle deadlines, and a graceful
// shutdown (server.go). The messages and their codes are riak_pb's
// (internal/pb/riakpb); docs/protocol-buffers.md lists each with its status.
//
// Requests' timeouts run on Config.Clock (the node's clock), and a
// timeout is told apart from the server closing (handle.go). The texts of
// the service's errors come from kv.UserMessage and kv.UserDetail
// (errors.go); pb never takes riakgo's error strings apart.
//
// The node wiring (internal/node) starts a Server beside the HTTP server;
// riakgo bench --protocol pb (internal/bench) is its load generator. It
// never imports http, nor http it.
package pb
