// Package siblings is the stored object: a version vector plus one or more
// sibling values, each with its metadata and, under dotted version vectors,
// the dot of the write that made it.
//
// It holds the pure rules every replica applies to objects:
//
//   - Update: the coordinating vnode's put (Riak's riak_object:update).
//     A write whose context descends the stored clock replaces everything;
//     otherwise the value becomes a sibling and, with DVV, exactly the
//     siblings the context had seen are dropped.
//   - Merge: the replica merge used by replication, read repair and
//     handoff. It is commutative, associative and idempotent.
//   - Reconcile and ChooseLatest: allow_mult=false resolution and reads.
//   - Limits: the sibling-count and size valves, applied only on client
//     write paths, never on repair or handoff.
//   - Resolvers: named strategies (json_set_union, numeric_max, longest;
//     a Registry) that merge siblings into one value for buckets whose
//     resolver property names one.
//
// The package is pure: time is an argument, nothing here does I/O.
// Callers are kv (vnodes, coordinators), internal/wire (the stored
// format), the client faces http and internal/pb (rendering) and
// internal/lab.
package siblings
