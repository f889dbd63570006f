// Package client is a Go client for the Riak KV 2.x HTTP API, as served by
// riakgo and by Riak itself. It depends only on the standard library, so it
// works against any Riak 2.x HTTP endpoint.
//
// A Client is safe for concurrent use. Every call takes a context first;
// the context (and the WithTimeout option) bounds the whole call, including
// reading a streamed answer.
//
// # Objects
//
// An object is addressed by a Loc (bucket type, bucket, key; an empty Type
// is the default type and uses the /buckets/B/keys/K routes). Get fetches
// with Accept: multipart/mixed so that a 300 answer arrives with every
// sibling; the result is an Object holding the opaque causal context
// (VClock) and its Siblings. Put writes one Content with the VClock of an
// earlier read (an empty VClock is a blind write), Create writes under a
// key the server generates, and Delete writes a tombstone.
//
// A missing object is reported as an error that matches ErrNotFound; when
// the server says the key holds a tombstone, the error is a *NotFoundError
// whose VClock is the tombstone's clock, so that a later write does not
// become a sibling of the tombstone. Other failures are *Error values with
// the HTTP status and body, which also match ErrPreconditionFailed (412),
// ErrNotModified (304), ErrUnavailable (503) and ErrUnknownType.
//
// # Siblings
//
// On buckets with allow_mult=true concurrent writes are kept as siblings.
// A Resolver picks or merges them into one Content; LastWriteWins and Fold
// are provided, and any function with the Resolver signature plugs in.
// GetResolved reads and resolves; Update reads, resolves, applies a
// mutation and writes the result back with the read's VClock, retrying a
// bounded number of times when the server answers 412 (conditional writes,
// strongly consistent buckets).
//
// # Buckets, types, listing, indexes, data types
//
// BucketProps, SetBucketProps and ResetBucketProps read and change bucket
// properties; TypeProps and SetTypeProps those of a bucket type.
// CreateType, ActivateType, TypeStatus and ListTypes use riakgo's admin
// routes (/admin/bucket-types), which Riak itself does not have.
// ListBuckets and ListKeys list names; StreamBuckets and StreamKeys read
// the server's chunked stream incrementally with bounded memory. Query runs
// a secondary-index query, StreamQuery streams one, and Pages walks every
// page of a paginated query. FetchDatatype and the Update* data-type calls
// speak the /types/T/buckets/B/datatypes/K JSON of Riak 2.x.
//
// Ping, Stats and Preflist cover the service routes.
package client
