// Package ring is the consistent-hash ring and the cluster state around
// it: partitions, owners, preference lists, claim, the gossiped membership
// and ownership state, and the plan/commit/transfer cycle of riak-admin's
// "cluster" commands.
//
// # Keys and preference lists
//
// A ring has a power-of-two number of partitions over the 160-bit SHA-1
// keyspace. A key is the triple (bucket type, bucket, key); KeyHash hashes
// a canonical length-prefixed encoding of it. As in riak_core, partition p
// owns the hashes in [p·inc − inc, p·inc) with wrap-around, so a hash maps
// to partition (top bits + 1) mod Q, and a key's primaries are the N
// partitions from there on. PrefList(r, h, n, up) adds riak_core_apl's
// fallbacks for primaries on down nodes.
//
// # Coverage
//
// Coverage(r, n, up, offset) is riak_core_coverage_plan's planner: the
// fewest up primary vnodes that between them hold every key once, each
// with the home partitions it answers for (its filter). Key listing and
// secondary-index queries run on such a plan; it fails with
// ErrInsufficientVnodes (Riak's insufficient_vnodes_available) when some
// home partition has all n of its primaries down.
//
// # Claim
//
// Claim(owners, members, targetN) assigns partitions to members: balanced
// (every member owns ⌊Q/n⌋ or ⌈Q/n⌉), diverse (every targetN consecutive
// partitions on distinct nodes whenever a balanced ring allows it, see
// Feasible, which holds for every power-of-two Q ≥ 8 and n ≥ 4 at the
// default targetN 4), deterministic, and moving as little as it can: a
// join moves the new node's share and a leave the leaving node's
// partitions, except into clusters of at most targetN+2 nodes, where
// keeping diversity needs more. testdata/claim_report.txt is the
// simulation over 1..16 nodes and Q = 8..1024.
//
// # Cluster state
//
// State is riak_core's ring record made a join-semilattice: members with
// status (joining, valid, leaving, exiting, down, invalid) and meta,
// ownership with pending transfers and the claimant under the ring version
// rvsn, completion marks, seen clocks, staged changes, and the ring clock.
// Merge is commutative, associative and idempotent; Reconcile applies
// gossip with riak_core_gossip's rules. Changes are methods taking the
// acting node and the time:
//
//	Join(local, seed, self, meta, now)      // cluster join
//	s.Stage(by, Change{...}, now)           // leave, force-remove, replace, force-replace
//	s.Plan()                                // cluster plan
//	s.Commit(claimant, &plan, now)          // cluster commit
//	s.Clear(by, now)                        // cluster clear
//	s.MarkDown(by, node, now)               // riak-admin down
//	s.CompleteTransfer(self, partition, now) // a handoff finished
//	s.Advance(self, now)                    // after every merge or change
//
// Advance does riak_core's ring_changed and claimant work: the claimant
// flips completed transfers, reassigns removed nodes' partitions, removes
// exiting nodes and, when nothing is pending, claims and schedules
// transfers; a leaving node that owns nothing becomes exiting. The node
// wiring's loop is: on gossip, Reconcile then Advance, persist, and gossip
// on if the state changed; hand off what Transfers lists for this node;
// then CompleteTransfer. MemberStatus and RingStatus give riak-admin's
// member-status and ring-status as data.
//
// States encode with MarshalBinary (encoding/binary varints, canonical;
// see encode.go) for gossip and the ring file.
//
// Everything here is pure: values in, values out, the time is an argument,
// no goroutines, and only the standard library and vclock are imported.
// Callers are kv (routing requests through Ring and PrefList), the
// membership and node wiring (gossip, persistence, the claimant loop) and
// the HTTP admin routes behind riakgo admin.
package ring
