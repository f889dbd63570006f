// Package testcluster runs a whole riakgo cluster in one process for tests:
// N real nodes (internal/node's New, the code that ships), each with its
// own storage (memstore), over the in-memory network (memnet, every message
// through the real codec) and the static membership (internal/membership/
// static, forgetting dead members as memberlist does). The cluster is
// formed as an operator forms one: every node joins the first through the
// real admin code, the claimant plans and commits, and the ring settles.
// The test drives it: Partition, Heal, Kill, Restart (storage kept), Wipe,
// Pause, Resume, ForceRemove, Join, Leave, PlanCommit, Tick, Step, Settle;
// HTTP(i) is node i's HTTP handler and Client(i) its kv service. One
// manual clock drives every node and the network: a call to a silent
// peer, a request timeout or a reap timer fires only when the test
// advances it. The seed of its randomness is logged so a failure can be
// replayed (Options.Seed).
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
