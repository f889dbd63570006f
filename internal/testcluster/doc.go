// Package testcluster runs a whole riakgo cluster in one process for tests:
// N nodes, each with its own storage (memstore) and kv service, talking
// over the in-memory network (memnet, every message through the real
// codec), with a static ring whose partitions are spread over the nodes and
// a per-node view of which nodes are up, which the test drives: Partition,
// Heal, Kill, Restart (storage kept). One manual clock drives every node
// and the network: a call to a silent peer, a request timeout or a reap
// timer fires only when the test advances it. The seed of its randomness
// is logged so a failure can be replayed.
//
// Membership and ring gossip are not part of it yet: the ring is fixed
// when the cluster is made, and "up" is what the test says.
package testcluster
