// Package bench is a basho_bench-style HTTP load generator for Riak-compatible
// servers, plus a "bare" ceiling server to compare them against.
//
// It is called by the `riakgo bench` subcommand (cmd/riakgo/bench.go), which
// parses flags into a [Config], calls [Run] against a running riakgo (or real
// Riak) node and optionally runs the identical workload against a
// `riakgo bench-bare` process serving [NewBareServer], printing both results
// side by side with [WriteComparison].
//
// The workload mirrors basho_bench's http_raw driver: a weighted mix of get,
// update (GET then PUT with the returned X-Riak-Vclock), blind put and delete
// operations over integer keys drawn from a truncated Pareto or uniform
// distribution, issued by a fixed number of closed-loop workers over
// keep-alive connections. Latencies are recorded in HDR histograms per worker
// and merged by a reporter once per interval, which prints a line per
// interval, optionally writes CSV rows, and prints a summary at the end.
//
// The generator usually shares a small machine with the server under test, so
// the request path avoids avoidable allocations and formatting work.
package bench
