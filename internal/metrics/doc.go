// Package metrics exports riakgo's metrics to Prometheus (client_golang):
// request latency histograms by operation, responses by status, sibling
// count and object size histograms, and read repairs. It implements kv's
// Metrics and http's Observer interfaces; the node wiring creates one
// Registry per node and serves it at /metrics.
package metrics
