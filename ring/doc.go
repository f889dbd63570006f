// Package ring is the consistent-hash ring: a power-of-two number of
// partitions over the 160-bit SHA-1 keyspace, who owns each partition, and
// preference lists (the N partitions that hold a key, with fallbacks for
// primaries on down nodes).
//
// A key is the triple (bucket type, bucket, key); KeyHash hashes a canonical
// length-prefixed encoding of it. As in riak_core, partition p owns the
// hashes in [p·inc − inc, p·inc) with wrap-around, so a hash maps to
// partition (top bits + 1) mod Q, and a key's primaries are the N partitions
// from there on.
//
// Everything here is pure: a *Ring is an immutable value and functions take
// the ring and the set of up nodes as arguments (PrefList(r, h, n, up)).
// Claim, gossip merge and transfer plans arrive with clustering. Callers are
// kv (routing requests) and the node wiring.
package ring
