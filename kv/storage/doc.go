// Package storage is the contract between riakgo's vnodes and a storage
// engine, the role database/sql/driver plays for SQL drivers.
//
// An Engine holds one node's data: per-partition key spaces (so that a
// handoff is a range scan and dropping a partition is a range delete) and a
// small node-level metadata space (vnode ids, epoch leases, bucket props).
// Keys and values are opaque bytes; kv decides their encoding.
//
// Implementations: pebblestore (the product, on Pebble) and memstore (tests).
// storagetest.Run is the conformance suite both pass.
package storage
