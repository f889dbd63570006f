// Package testcluster runs a whole riakgo cluster in one process for tests:
// N nodes, each with its own storage (memstore) and kv service, talking
// over the in-memory network (memnet, every message through the real
// codec), with a static ring whose partitions are spread over the nodes and
// a per-node view of which nodes are up, which the test drives: Partition,
// Heal, Kill, Restart (storage kept). One manual clock drives every node
// and the network: a call to a silent peer, a request timeout or a reap
// timer fires only when the test advances it. The seed of its randomness
// is logged so a failure can be replayed (Options.Seed).
//
// Membership is the static in-process one (internal/membership/static),
// gossiped when the cluster ticks; the cluster is formed by cluster join,
// plan and commit through the real admin code.
//
// # Time
//
// Settle(maxTicks) and Step count ticks, not wall time: each tick is
// followed by quiescence (Quiesce), the point where no goroutine can run
// until the test does something, so the work a tick started (transfers,
// exchanges, replies) has finished before the clock moves again and the
// number of ticks a test needs does not depend on the machine. Inside a
// testing/synctest bubble quiescence is synctest.Wait; outside one it is
// read from the runtime's goroutine states (see quiesce.go), which a
// test's own busy goroutines (a workload) hide: such tests use
// SettleUnderLoad, paced by wall-clock polls. With Options.Stepped the
// network delivers one message at a time in canonical order, which with a
// bubble makes a run a function of the seed and the test's commands
// (internal/scenario).
package testcluster
