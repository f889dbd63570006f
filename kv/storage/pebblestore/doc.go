// Package pebblestore is riakgo's storage engine: one Pebble database per
// node, with every partition's keys under a two-byte partition prefix (a
// handoff is a range scan, dropping a partition a range delete) and node
// metadata under its own prefix. Each object's sum (storage.Sum of its
// bytes) is kept under a prefix of its own, in the same batch as the
// object; a store written before sums were kept gets them once, in Open.
//
// Durability. Pebble buffers unsynced WAL records inside the process, so a
// plain NoSync commit can be lost if the process is killed. riakgo promises
// Riak's default instead: an acknowledged write survives a crash of the
// process (it has reached the operating system), and with sync_on_write it
// also survives a crash of the machine. To get the first without an fsync
// per write, every commit asks Pebble for a synced WAL write through a
// file-system wrapper whose WAL Sync only records that a sync is owed: the
// commit returns once its record has been written to the OS, and group
// commit still batches concurrent writers. Write with Sync then really
// fsyncs the WAL files, and a WAL file is fsynced before it is closed.
// Sstables, the manifest and directories are always synced for real. A
// failed WAL fsync is sticky: the store refuses every later write, because
// after a failed fsync the OS may report later ones as successful without
// the data.
//
// The store stays at Pebble's minimum format version on purpose: later
// formats record WAL sync offsets (FormatWALSyncChunks), which the deferred
// sync would make untrue. Raise it only together with that design.
package pebblestore
