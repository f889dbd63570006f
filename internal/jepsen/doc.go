// Package jepsen is riakgo's own Jepsen-style fault-injection workload:
// clients that record every operation as acknowledged, failed or
// indeterminate, and the checkers that judge the final state of the
// cluster against that history (issue 16).
//
// The workload speaks the HTTP API through package client, so the same
// code drives the in-process cluster (internal/testcluster, whose nodes'
// handlers it calls through an http.RoundTripper; see the nemesis test
// there) and real `riakgo start` processes (the tests of this package,
// in network namespaces when the machine allows it, and `make jepsen`).
//
// Four workloads run side by side, each on its own bucket type:
//
//   - allow_mult sets (jset): read, union the siblings, add an element,
//     write back with the read's causal context; the final value is the
//     union of the siblings. Checker: every acknowledged add is present,
//     nothing that no client tried to add is.
//   - data-type sets (jdtset, datatype set): add operations.
//   - counters (jcounter, datatype counter): increments of 1. Checker: the
//     final value lies in [acknowledged, acknowledged + indeterminate].
//   - last-write-wins unique keys (jlww, last_write_wins): each key is
//     written once. Checker: every acknowledged key reads back with its
//     value, and no key holds a value nobody wrote.
//
// An operation is acknowledged on a 2xx answer, failed when it certainly
// did not happen (a refused connection, a 4xx, a read that failed before
// the write was sent) and indeterminate otherwise (a timeout, a 5xx: the
// write may have reached some replicas). Final reads ask every replica
// (r=all, pr=all) once the faults are over and the cluster has settled.
package jepsen
