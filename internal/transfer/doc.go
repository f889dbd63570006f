// Package transfer is the vocabulary a partition transfer shares between
// its two ends: the handoff manager that moves partitions between nodes
// and the vnodes that fold and receive them. Job says which transfer
// (partition, Kind, target node), Item is one object as it travels (its
// storage key and encoded value).
//
// It sits below both handoff and kv so that neither imports the other:
// handoff defines the interfaces the node's vnodes satisfy in these
// terms, and kv's Vnodes implements them. It holds types only.
package transfer
