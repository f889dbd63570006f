// Package node wires one riakgo node together: it is the only package that
// picks concrete implementations (Pebble storage, the Prometheus registry,
// the HTTP server) and connects them to kv and http. cmd/riakgo's start
// command and the multi-process tests use it.
package node
