// Package http serves Riak's HTTP API over a kv.Client: objects under
// /types/T/buckets/B/keys/K, /buckets/B/keys/K and the legacy /riak/B/K,
// bucket properties, /ping, the preflist route and /metrics, with Riak's
// headers (X-Riak-Vclock, X-Riak-Meta-*, X-Riak-Index-*, Link), status
// codes and text bodies, so that Riak's curl examples and existing Riak
// HTTP clients work unchanged.
//
// riakgo's own process-group routes (/pg/…, /pg-member/…) serve a
// PGService (pg.Service); see pg.go and docs/pg.md.
//
// Where Riak answered 500 for a client's mistake (a malformed vclock, an
// invalid quorum, an oversize body) riakgo answers a 4xx with a message
// that says what was wrong; docs/differences.md lists every such case.
//
// The package is named http after its directory; import it with an alias
// (riakhttp). It depends only on kv's Client interface and the pure
// packages, never on storage, transport or the node wiring.
package http
