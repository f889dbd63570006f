// Package pg is riakgo's process groups (riak_pg, cpg, Erlang pg) over
// the key-value service: a bucket type of datatype pg whose keys are
// groups holding a dt.PG; owner-written members with join counts, leases,
// pruning by the cluster's view of owners, picks, which-groups, pattern
// groups and watches. docs/pg.md describes them for users; the design is
// at the top of pg.go.
//
// It is built on kv's narrow extension API, never on its internals: an
// owner's sync travels as a kv.Update of kind "pg" (its mutation runs at
// the coordinating vnode under the key's lock), kv.Service.Coordinator
// chooses the node that coordinates a group, kv.Service.Handle and Call
// carry its internode message (MsgPGSet), and reads are
// kv.Service.FetchDatatype and ListKeys. kv imports no kv/pg (the lint
// holds it).
//
// Callers: the http process-group routes (through http.ProcessGroups) and
// the node wiring, which ticks it every second.
package pg
