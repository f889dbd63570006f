// Package metrics exports riakgo's metrics to Prometheus (client_golang):
// request latency histograms by operation, responses by status, sibling
// count and object size histograms, read repairs, handoff transfers,
// anti-entropy exchanges and process-group figures. Names follow
// Prometheus' conventions (base units, _total counters, _seconds
// histograms); the table in docs/operations.md lists every one, and
// TestMetricsMatchDocs holds the two together. It implements kv's Metrics,
// handoff's Metrics and AAEMetrics and http's Observer interfaces, and
// registers the process groups' figures (RegisterPG); the node wiring
// creates one Registry per node and serves it at /metrics. It is the only
// package that imports the Prometheus client.
package metrics
