// Package transporttest is the conformance suite every transport.Transport
// implementation passes: request/response round trips, one-way sends,
// concurrent multiplexed calls, typed remote errors, unknown message types,
// deadlines, cancellation, Close failing calls in flight, 1 MiB messages and
// a peer restarting. internal/transport/tcp runs it on loopback sockets and
// internal/transport/memnet on its in-memory network, so code tested on
// memnet behaves the same on TCP.
//
// It is a non-test package so both implementations' tests can import it;
// product code never does. It uses the test message types wire.MsgTest1..4.
package transporttest
