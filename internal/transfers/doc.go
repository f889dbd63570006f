// Package transfers drives a node's handoff: the periodic scan that turns
// the cluster state and the node's vnodes into handoff jobs (ownership
// transfers this node is the source of, fallback vnodes whose owner is up
// again), the adapter that lets package handoff fold and fill kv's
// vnodes, and the end of an ownership transfer: completion marks for the
// ring state, dropping a partition once the ring has flipped, and
// forwarding requests that still arrive for it.
//
// The node wiring (internal/node) and the in-process test cluster
// (internal/testcluster) both run it, so the tests exercise the same
// decisions as a real node.
package transfers
