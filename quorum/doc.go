// Package quorum holds the per-request decision cores of riakgo's get, put
// and delete coordinators: parsing and resolving quorum values (integers and
// the symbolic one, quorum, all and default), validating them against n_val
// and the preference list, and counting vnode replies until a request has
// enough to answer (Riak's riak_kv_get_core and riak_kv_put_core).
//
// The cores are pure counters: they take replies as arguments and answer
// Enough and Response; they never do I/O, read the clock or merge objects.
// kv's coordinators feed them and act on their answers. Quorum failures are
// typed (*Error) so that the client faces (http, internal/pb) map each to
// Riak's status and text.
package quorum
