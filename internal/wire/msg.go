package wire

import "strconv"

// MsgType identifies an internode message: the one byte after a frame's
// length prefix. The transport routes a frame to the handler registered for
// its type; the owner of the message (kv, the process groups, handoff,
// internal/metadata, internal/node) defines the body as a plain Go struct
// with msgpack tags.
type MsgType uint8

// The message types.
//
// WARNING: ONLY APPEND TO THIS LIST. The numbers are part of the protocol:
// nodes of different releases exchange them. Never renumber, reuse or remove
// a type; retire one by leaving its constant in place with a "retired"
// comment. testdata/msgtypes.golden holds every number ever assigned and
// TestMsgTypesAppendOnly fails when one changes.
//
// Blocks, so that owners append without colliding (the first numbers were
// handed out before the blocks, so 22–27 are handoff's and anti-entropy's
// and 40 is the process groups', inside kv's block):
//
//	  1–15   transport (handshake, ping)
//	 16–79   kv (vnode requests, coordinator forwarding, coverage), and
//	         22–27 handoff and anti-entropy, 40 process groups
//	 80–111  handoff and anti-entropy (new types)
//	112–143  cluster: metadata, admin forwarding, ring (internal/metadata,
//	         internal/node)
//	144–250  unassigned
//	251–254  tests only: product code never sends them
//	255      never assigned
const (
	// MsgInvalid is the zero value; no frame carries it.
	MsgInvalid MsgType = 0
	// MsgHello is the version handshake, the first frame on every
	// connection in each direction; its body is a Hello.
	MsgHello MsgType = 1
	// MsgPing is a liveness probe answered by every transport with an
	// empty body; it needs no registered handler.
	MsgPing MsgType = 2
	// MsgHelloAuth carries the dialer's proof of the cluster secret
	// (HelloAuth), after the Hellos, when the cluster has a secret.
	MsgHelloAuth MsgType = 3
)

// kv: requests from a coordinator to a vnode on another node. Bodies are
// defined by package kv.
const (
	// MsgKVGet reads a key from a vnode.
	MsgKVGet MsgType = 16
	// MsgKVPut merges an object into a vnode's copy (replication, repair).
	MsgKVPut MsgType = 17
	// MsgKVCoordPut has a vnode coordinate a client write.
	MsgKVCoordPut MsgType = 18
	// MsgKVReap asks a vnode to reap a tombstone per its delete_mode.
	MsgKVReap MsgType = 19
	// MsgKVListKeys listed the keys of a bucket in one partition, in one
	// unbounded reply. Retired: listings run on MsgKVCoverage.
	MsgKVListKeys MsgType = 20
	// MsgKVListBuckets listed the buckets of a type in one partition.
	// Retired: listings run on MsgKVCoverage.
	MsgKVListBuckets MsgType = 21
	// MsgHandoffBegin opens a transfer on the receiver (a slot). 22–27
	// belong to handoff (bodies defined by package handoff).
	MsgHandoffBegin MsgType = 22
	// MsgHandoffBatch carries a batch of a transfer's objects.
	MsgHandoffBatch MsgType = 23
	// MsgHandoffEnd closes a transfer and frees the receiver's slot.
	MsgHandoffEnd MsgType = 24
	// MsgHandoffStatus asks a node for its transfers (admin transfers).
	MsgHandoffStatus MsgType = 25
	// MsgAAETree asks a vnode for the segment hashes of one of its
	// anti-entropy trees.
	MsgAAETree MsgType = 26
	// MsgAAEKeys asks a vnode for the key hashes of some segments.
	MsgAAEKeys MsgType = 27
	// MsgKVCoverage asks a vnode of a coverage plan for one cursor-paged,
	// bounded batch of a key listing, bucket listing or 2i query.
	MsgKVCoverage MsgType = 28
	// MsgKVCoordUpdate has a vnode coordinate a data-type write sent as
	// data (an encoded operation), for a node that holds no replica.
	MsgKVCoordUpdate MsgType = 29
)

// Handoff and anti-entropy (block 80–111). Bodies are defined by package
// handoff.
const (
	// MsgHandoffRepair asks the owner of a neighbouring partition to send
	// the keys a partition under repair should hold (partition repair).
	MsgHandoffRepair MsgType = 80
)

// Cluster (block 112–143): the cluster metadata (bucket types, bucket
// properties, security; bodies defined by package internal/metadata), then
// the node's admin forwarding and ring views (bodies defined by package
// internal/node).
const (
	// MsgMetaPush carries changed entries to a member, which merges them.
	MsgMetaPush MsgType = 112
	// MsgMetaSync exchanges whole metadata states (anti-entropy).
	MsgMetaSync MsgType = 113
	// MsgMetaGet asks a member for its state of one entry.
	MsgMetaGet MsgType = 114
	// MsgClusterAdmin forwards a cluster admin verb: plan or commit to
	// the claimant, a partition repair to the partition's owner. Body
	// defined by internal/node.
	MsgClusterAdmin MsgType = 115
)

// Ring views. Bodies are defined by package internal/node.
const (
	// MsgRingOwners asks a member for its view of the partition owners
	// (admin ringready).
	MsgRingOwners MsgType = 116
)

// Process groups (pg bucket type; a number of kv's block, assigned before
// the blocks). Bodies are defined by the process-group code.
const (
	// MsgPGSet has the coordinator of a pg key sync an owner's members.
	MsgPGSet MsgType = 40
)

// Message types reserved for tests (transport conformance suites, fuzzing).
// Product code never sends or handles them.
const (
	MsgTest1 MsgType = 251
	MsgTest2 MsgType = 252
	MsgTest3 MsgType = 253
	MsgTest4 MsgType = 254
)

// msgNames is the registry: the name of every assigned type. A read-only
// table, indexed by MsgType.
var msgNames = [256]string{
	MsgHello: "hello",
	MsgPing:  "ping",

	MsgHelloAuth: "hello_auth",

	MsgKVGet:      "kv_get",
	MsgKVPut:      "kv_put",
	MsgKVCoordPut: "kv_coord_put",
	MsgKVReap:     "kv_reap",

	MsgKVCoordUpdate: "kv_coord_update",

	MsgKVListKeys:    "kv_list_keys",
	MsgKVListBuckets: "kv_list_buckets",

	MsgHandoffBegin:  "handoff_begin",
	MsgHandoffBatch:  "handoff_batch",
	MsgHandoffEnd:    "handoff_end",
	MsgHandoffStatus: "handoff_status",
	MsgAAETree:       "aae_tree",
	MsgAAEKeys:       "aae_keys",
	MsgHandoffRepair: "handoff_repair",
	MsgKVCoverage:    "kv_coverage",
	MsgPGSet:         "pg_set",

	MsgMetaPush: "meta_push",
	MsgMetaSync: "meta_sync",
	MsgMetaGet:  "meta_get",

	MsgRingOwners:   "ring_owners",
	MsgClusterAdmin: "cluster_admin",

	MsgTest1: "test1",
	MsgTest2: "test2",
	MsgTest3: "test3",
	MsgTest4: "test4",
}

// String returns the registered name of t, or "msg(N)" for a number this
// release does not know (a newer peer may send one).
func (t MsgType) String() string {
	if n := msgNames[t]; n != "" {
		return n
	}
	return "msg(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is assigned in this release's registry.
func (t MsgType) Known() bool { return msgNames[t] != "" }

// MsgTypes returns every assigned message type in ascending order.
func MsgTypes() []MsgType {
	var out []MsgType
	for i, n := range msgNames {
		if n != "" {
			out = append(out, MsgType(i))
		}
	}
	return out
}
