// Package storagetest is the conformance suite for storage.Engine. Every
// engine's tests call Run with a function that opens a new, empty engine;
// pebblestore and memstore both pass it, which is what lets the rest of
// riakgo test against the fast memstore and ship on Pebble.
//
// The suite checks the contract written in package storage: missing keys,
// set/overwrite/delete, isolation of partitions (including the edges 0,
// 255/256 and 65535) and of the metadata space, atomic and ordered batches,
// Scan order, prefixes, exact values (empty values, 0x00 and 0xff bytes,
// keys that prefix each other), early stop, snapshot reads with re-entrant
// callbacks, DropPartition, ownership of slices going in and out, Sync
// writes, concurrent writers and readers (run it under -race), and
// ErrClosed after Close, including a Close racing a re-entrant Scan.
//
// It imports only the standard library and package storage, so it adds no
// dependency to the engines that use it. Crash and reopen behaviour is
// engine-specific and lives in each engine's own tests.
package storagetest
