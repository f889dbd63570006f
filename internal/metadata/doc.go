// Package metadata is the cluster metadata: the small settings that hold
// for the whole cluster (bucket types, bucket properties, and security's
// users, groups, sources, grants and enable flag), as riak_core's cluster
// metadata keeps them.
//
// Every node holds a replica (Store), persisted in its storage engine's
// node metadata. Each entry is a dotted version vector set (Entry): a write
// on one node replaces what that node has seen, concurrent writes during a
// partition are kept side by side, and readers resolve them the same way
// on every node (the latest by the writer's clock, ties by node name). A
// change is pushed at once to every member thought up, and Put returns
// when they have confirmed it; a member that was down or partitioned gets
// it from anti-entropy: nodes gossip a digest of their metadata with the
// ring state, and two nodes whose digests differ exchange whole states
// (Sync). Stores of different clusters never merge.
//
// Callers: internal/node wires one Store per node (transport, peers,
// cluster name); kv reads bucket types and properties from it and nothing
// else; internal/security keeps its entries there (security_* prefixes).
package metadata
