// Package http serves Riak's HTTP API over a kv.Client: objects under
// /types/T/buckets/B/keys/K, /buckets/B/keys/K and the legacy /riak/B/K,
// bucket properties and types, key and bucket listing, secondary indexes,
// counters and data types, link walking, /ping, /stats, the preflist route
// and /metrics, with Riak's headers (X-Riak-Vclock, X-Riak-Meta-*,
// X-Riak-Index-*, Link), status codes and text bodies, so that Riak's curl
// examples and existing Riak HTTP clients work unchanged. The node wiring
// (internal/node) builds the Handler and serves it; the admin routes under
// /admin (cluster.go, repair.go, admin.go) are what `riakgo admin` calls.
//
// riakgo's own process-group routes (/pg/…, /pg-member/…) serve a
// ProcessGroups (pg.Service); see pg.go and docs/pg.md.
//
// Where Riak answered 500 for a client's mistake (a malformed vclock, an
// invalid quorum, an oversize body) riakgo answers a 4xx with a message
// that says what was wrong; docs/differences.md lists every such case.
//
// Errors from kv map to Riak's statuses by their sentinels and types
// (mapError); a refusal's text for the client comes from the error as data
// (kv.UserMessage, kv.UserDetail), never by taking error strings apart.
//
// The package is named http after its directory; import it with an alias
// (riakhttp). It depends on kv (its Client interface, keys, options and
// errors), the pure packages, internal/riakapi (the request rules it shares
// with the Protocol Buffers face), internal/security's command errors and
// internal/clock; never on storage, transport, handoff (the admin routes
// serve types of their own: TransfersJSON, AAEJSON) or the node wiring,
// which implements ClusterAdmin, RepairAdmin and SecurityAdmin for it.
package http
