// Package testcluster runs a whole riakgo cluster in one process for tests:
// N real nodes (internal/node's New, the code that ships), each with its
// own storage (memstore), over the in-memory network (memnet, every message
// through the real codec) and the static membership (internal/membership/
// static, forgetting dead members as memberlist does). The cluster is
// formed as an operator forms one: every node joins the first through the
// real admin code, the claimant plans and commits, and the ring settles.
// The test drives it: Partition, Heal, Kill, Restart (storage kept), Wipe,
// Pause, Resume, ForceRemove, Join, Leave, PlanCommit, Tick; HTTP(i) is
// node i's HTTP handler and Client(i) its kv service. One manual clock
// drives every node and the network: a call to a silent peer, a request
// timeout or a reap timer fires only when the test advances it. The seed
// of its randomness is logged so a failure can be replayed.
package testcluster
