// Package node wires one riakgo node together: it is the only package that
// picks concrete implementations (Pebble storage, the Prometheus registry,
// the HTTP server, the TCP transport, the memberlist membership) and
// connects them to kv and http. cmd/riakgo's start command and the
// multi-process tests use it.
//
// # Cluster
//
// A fresh node is a cluster of one (ring.NewState) owning every
// partition. Its ring.State is persisted in the storage metadata
// ("ring_state") and reloaded at restart, when the node gossips with the
// members it knew. The state travels as the membership's StateHandler
// state (push/pull) and in Broadcasts, wrapped with the sender's name;
// a received state is Reconciled, Advanced, installed in kv (SetRing),
// persisted, and gossiped on if it changed. A 1 s loop Advances (the
// claimant's work) and completes the pending ownership transfers from
// this node whose partition is empty here. Moving the data of a
// non-empty partition (ownership handoff) is not built yet: such a
// transfer stays pending. The node implements http.ClusterAdmin: join,
// leave, clear, and plan and commit, which run on the claimant (forwarded
// over HTTP to the HTTPAddr in its member meta).
package node
