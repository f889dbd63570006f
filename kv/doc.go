// Package kv is riakgo's key-value service: vnodes (one per partition held
// by this node), the get, put and delete coordinators, bucket types and
// bucket properties, and Client, the interface the client faces (http,
// internal/pb) serve.
//
// Coordinators are step machines (kv/coord's GetFSM, PutFSM): Start and
// Step take events (vnode replies, time-outs) and return actions (send to
// a vnode, answer the client, read-repair a replica) without doing I/O
// themselves, so every quorum rule is testable without goroutines.
// Service is the thin driver that performs the actions: it calls local vnodes directly and
// remote ones through the transport.
//
// A put is coordinated by one vnode of the key's preference list: it reads
// its copy, makes the new dot with its actor (vnode id + per-key epoch,
// minted from a durably leased counter so that no dot is ever reused), and
// the resulting object is then merged into the other N-1 replicas. A get
// asks all N, answers at R/PR, and afterwards repairs stale replicas. A
// delete writes a tombstone and, once all N primaries hold it, reaps it
// after delete_mode.
//
// Key listing, bucket listing and secondary-index queries (list.go) run on
// a coverage plan (coverage.go, ring.Coverage): the fewest up primary
// vnodes that together hold every key, each answering for its share of
// home partitions, read through stateless cursor-paged requests and
// merged; without full coverage they fail with ErrInsufficientVnodes.
//
// Process groups live in kv/pg, over the narrow API of extension.go: an
// Update that travels as data, the coordinator of a key, an internode
// message with typed errors, background work.
//
// Handoff and anti-entropy reach the node's partitions through Vnodes
// (handoff.go, aae.go), which implements package handoff's interfaces in
// the terms of internal/transfer; kv imports no handoff.
//
// I/O happens only through injected interfaces: storage.Engine,
// transport.Transport, clock.Clock (every timeout and deadline runs on
// it), the cluster metadata store and a Metrics observer. Callers: the
// client faces http and internal/pb (through Client), kv/pg, handoff
// (through Vnodes) and the node wiring.
package kv
