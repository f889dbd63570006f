// Package vclock implements the causality primitives riakgo stores with every
// object: actors, dots, version vectors and their pruning.
//
// An Actor is a vnode id plus a per-key epoch. Vnode ids are random 64-bit
// values and epochs come from a durably leased per-vnode counter, so an actor
// is never derived from a clock and a vnode that lost a key never re-issues a
// dot it used before (Riak's kv679 data-loss bug).
//
// A VClock is a version vector: a slice of entries sorted by actor, each with
// the actor's event counter and the wall-clock second of its last increment.
// The timestamp never takes part in causality; it exists only for Prune and
// for diagnostics. A Dot names exactly one event (actor, counter); the
// siblings package stamps each written value with the dot of the write that
// made it, which is what makes Riak 2.0's dotted version vectors work.
//
// Every function here is pure: clocks are values, operations return new
// clocks and never modify their arguments, and the current time is always an
// argument. The package imports only the standard library. Its callers are
// siblings (object merge), dt (dots of data types), ring (the cluster
// state's clocks), kv (coordinating puts), internal/wire (the stored
// format) and the client faces http and internal/pb (the opaque causal
// context, via MarshalBinary/UnmarshalBinary).
package vclock
