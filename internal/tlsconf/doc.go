// Package tlsconf loads a node's TLS material (certificate, key and CA
// files) and hands out tls.Configs that always use the latest material:
// Reload (the node calls it on SIGHUP) swaps certificates and the CA
// under running listeners, and connections made afterwards use them.
//
// Server configs serve the client faces (HTTPS, Protocol Buffers'
// STARTTLS): client certificates are asked for and verified against the
// CA when given (Riak's certificate source). Peer configs serve the
// internode transport: both sides present certificates and each checks
// that the CA signed the other's (host names are not checked: the
// cluster CA is the proof of membership).
package tlsconf
