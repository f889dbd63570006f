// Package node assembles one riakgo node. New builds it from its
// configuration and its parts (Deps: storage engine, transport,
// membership, clock, randomness): the cluster metadata store, the security
// model, the kv service, handoff, anti-entropy, process groups and the
// HTTP handler (given the node's clock). Start builds the product's parts
// around the same New (Pebble in the data directory sized by the memory
// budget, TLS material, the TCP transport, memberlist, the HTTP, HTTPS and
// Protocol Buffers listeners), runs the node's loops and serves;
// internal/testcluster passes in-memory parts and drives Tick, so
// in-process cluster tests run the code that ships. It is the only package
// (with testcluster) that picks concrete implementations.
//
// # Cluster
//
// A fresh node is a cluster of one (ring.NewState) owning every partition.
// Its ring.State is persisted in the storage metadata ("ring_state") and
// reloaded at restart, when the node gossips with the members it knew and
// fetches the cluster metadata before it serves. The state travels as the
// membership's StateHandler state (push/pull) and in Broadcasts, wrapped
// with the sender's name and a digest of its cluster metadata; a received
// state is Reconciled, Advanced, installed in kv (SetRing) and gossiped on
// if it changed, and a peer whose metadata digest differs is synced with
// at the next tick. The 1 s tick Advances (the claimant's work), runs the
// handoff scan (ownership and hinted transfers, partition repairs,
// dropping partitions that moved), anti-entropy and the
// metadata syncs, contacts again the members not seen alive, and logs
// members going down and coming back; a second loop runs the process
// groups' tick. A node its cluster removed becomes a cluster of its own
// again.
//
// # Admin
//
// The node implements http.ClusterAdmin and http.RepairAdmin: join (by
// gossip address or node name; it returns once the seed lists the joining
// node), leave, force-remove, replace, clear, down, transfers and
// aae-status (handoff's status converted to http's admin types),
// ringready (MsgRingOwners to every member) and repair; plan and commit
// run on the claimant and a repair on the partition's owner, forwarded
// over the internode transport (MsgClusterAdmin), so a forwarded verb is
// authenticated as every internode message is; plan waits until the
// claimant has seen what the asking node had and the cluster has
// converged.
package node
