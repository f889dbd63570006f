// Package dt holds riakgo's convergent replicated data types: the values
// stored in buckets whose type sets the datatype property, as Riak 2.x's
// riak_dt types.
//
//   - Counter: PN-counter (per-actor increment and decrement totals).
//   - Set: add-wins observed-remove set without tombstones (ORSWOT).
//   - Map: fields keyed by (name, type) holding an embedded counter, set,
//     register, flag or map; observed-remove plus reset-remove semantics.
//   - Register: last-writer-wins on caller-supplied timestamps, ties broken
//     by actor.
//   - Flag: enable-wins.
//   - GSet: grow-only set.
//   - HLL: HyperLogLog cardinality sketch, precision 4..16 (default 14).
//   - OpLog: versioned op-log register, a balance made of uniquely
//     identified operations (actor, seq) with per-actor compacted prefixes;
//     the correct replacement for replay-last-op sibling resolution.
//   - BCounter: bounded counter that never goes below zero, by escrow:
//     replicas hold rights, decrement only their own and transfer them.
//   - PG: process-group state (riak_pg, cpg, Erlang pg): members
//     (owner node, incarnation, id) with cpg join counts and metadata,
//     written only by their owner node, a dot store like Set so leaves
//     leave nothing behind; pruning by incarnation or node for dead owners.
//
// All of them implement CRDT. Set, Flag and Map are dot stores sharing one
// causal kernel: every add carries a dot, the value's clock (a version
// vector, never pruned) has seen every dot, and removal is the absence of a
// dot the clock has seen, so removed elements and fields cost nothing.
// Nested values in a map share the map's clock and dots (no per-field
// clocks), and encodings write each actor once.
//
// # Value semantics
//
// Values are mutable and owned by one goroutine: Apply, ApplyOp, Merge and
// UnmarshalBinary change the receiver in place; an Apply that fails changes
// nothing; Clone makes an independent deep copy, and no value ever keeps a
// reference into another value's memory. The zero value of each type is its
// empty value. Merge is a join (commutative, associative, idempotent) on
// values and on the canonical encodings.
//
// # Operations and contexts
//
// Riak's data types are operation-based at the API and state-based inside:
// a client sends an operation (CounterOp, SetOp, MapOp, RegisterOp, FlagOp,
// GSetOp, HLLOp, mirroring Riak's JSON operations; OpLogOp, BCounterOp and
// BTransferOp, PGOp and PGPruneOp for riakgo's own types), the coordinating vnode
// applies it to its local value with its own actor (vclock.Actor: vnode id
// plus per-key epoch), then replicates the whole value, which the other
// replicas merge. Removes take the causal Context the client read: a remove
// deletes exactly the dots its context covers and never one outside it, so a
// concurrent add wins, and so does an add earlier in the same operation
// ([add x, remove x] with a context keeps x, as in riak_dt). A remove with a
// context that finds nothing to delete succeeds and changes nothing. Only a
// remove without a context whose element or field is absent from the
// replica fails, with *PreconditionError (ErrPrecondition), Riak's
// {precondition,{not_present,X}}. A replica that has not yet seen the whole
// context removes what it can and defers the rest until merges bring the
// missing adds, up to MaxDeferred pending contexts, beyond which it fails
// with ErrTooManyDeferred instead of dropping anything. See Set for the
// full rules and Map for reset-remove.
//
// # Encoding
//
// MarshalBinary writes a type tag (the Kind) and a version byte, then a
// canonical payload of varints: equal states give equal bytes, so encodings
// can feed hashes and Merkle trees. UnmarshalBinary (and Unmarshal, which
// dispatches on the tag) accepts only canonical encodings of valid values,
// never panics on hostile input, and allocates in proportion to its input.
// Context bytes (Context.Bytes, ParseContext) are validated the same way.
// Only the standard library is used; msgpack belongs to internal/wire.
//
// Deltas (δ-CRDTs) are not produced: replication ships full states, as in
// Riak, where Basho measured no gain from deltas without decomposed storage.
//
// # Who calls it
//
// kv stores these values as the object values of datatype buckets: a vnode
// decodes the stored value, merges any siblings, applies the client's
// operation with its actor, encodes and replicates. http parses Riak's JSON
// operations into the Op structs (ParseField and ParseKind help with
// name_type field names), decodes the base64 context with ParseContext,
// renders Value() as Riak's JSON, and maps ErrPrecondition and the other
// sentinels in errors.go to Riak's status codes; internal/pb does the same
// for Riak's Protocol Buffers operations (DtUpdateReq).
//
// The package is pure: no clocks (timestamps arrive in RegisterOp), no
// goroutines, no I/O; it imports the standard library and vclock only.
package dt
