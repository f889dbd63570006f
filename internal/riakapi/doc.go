// Package riakapi holds the request rules that Riak's two client faces,
// the HTTP API (package http) and the Protocol Buffers API (internal/pb),
// apply alike: how secondary-index entries written with an object are
// checked and normalised, which index fields and term filters a query may
// use, whether a bucket can hold data types or counters, which causal
// contexts no write produces, and the Security and Principal interfaces
// with Riak's permission names that both faces check. Each face parses
// its own wire format, calls these functions, and renders their errors
// (whose texts are Riak's) in its own way, so the two faces never import
// each other and never copy each other's rules.
package riakapi
