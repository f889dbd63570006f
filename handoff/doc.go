// Package handoff moves partitions between nodes: hinted handoff from a
// fallback vnode back to its primary, ownership transfers when a join,
// leave or replace moves a partition, partition repairs (a partition
// refilled from its neighbours), and the anti-entropy exchanges that find
// replicas that drifted apart.
//
// A Manager sends and receives transfers over the internode transport and
// reports them (Status, and ClusterStatus, which asks every node with
// MsgHandoffStatus; the node wiring shows them as http's admin types). An
// Exchanger runs the anti-entropy exchanges. Neither imports kv (and kv
// never imports handoff): the node's vnodes (kv.Vnodes) satisfy the small
// interfaces defined here (Vnodes: fold a partition, merge a batch, the
// hooks an ownership transfer needs to forward writes; RepairVnodes;
// DriverVnodes; AAEVnodes: tree segments and keys, repair by a read), in
// the terms of internal/transfer (Job, Kind, Item), which both import.
//
// The protocol: Begin reserves a slot on the receiver (refused when the
// receiver is at its concurrency limit); batches of objects, bounded by
// count and bytes, follow, each a call whose answer comes only after the
// receiver has merged and synced the batch (the back-pressure); End frees
// the receiver's slot. Merging is idempotent, so a batch sent twice does
// no harm. A broken transfer retries from the last acknowledged key, a
// bounded number of times; a transfer whose receiver stops answering times
// out and frees its slot on both sides.
//
// The node decides what to transfer on a periodic scan (Driver.Step
// offers the Manager every job it finds: ownership transfers from the
// ring's plan, hinted handoff of fallbacks whose owner is up, partition
// repairs), never by vnode idleness, so handoff happens under steady
// traffic too.
package handoff
