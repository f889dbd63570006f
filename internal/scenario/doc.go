// Package scenario runs scenario tests: testdata/*.txt files that tell,
// command by command, how a request behaves on a five-node cluster under
// partitions, crashes and lost messages, with the transcript each command
// produces. They are written for a reader first: the comments (# lines)
// explain what is shown, and the files are the first place to look to
// learn how a get, a put, a sloppy quorum, hinted handoff or a metadata
// change behaves when the network misbehaves.
//
// The format is etcd raft's and pebble's datadriven one:
//
//	# prose
//	put node=1 key=b/k value=v1 w=2
//	----
//	#1 put n1 b/k v1: ok
//
// go test ./internal/scenario/ compares every output; with -rewrite it
// writes the outputs of the run into the files instead (only commit the
// changes if you understand what caused them). A new command may be
// written without ---- and output; -rewrite fills them in.
//
// # Determinism
//
// A file runs inside a testing/synctest bubble on an
// internal/testcluster cluster in stepped mode (Options.Stepped): every
// internode message waits in memnet's queue and is delivered one at a
// time, in a canonical order (sender, receiver, type, body), after every
// goroutine has finished what the previous delivery started
// (synctest.Wait). The manual clock moves only on tick, stabilize and
// the cluster's own bounded waits, and the wall clock of the bubble stands
// still. So a transcript repeats run after run (-count=N shows it); the
// one caveat is the nodes' shared seeded generator, drawn in scheduler
// order by goroutines that draw between the same two deliveries.
//
// # Commands
//
// Nodes are numbered from 1 (n1 … n5); keys are bucket/key or
// type/bucket/key.
//
//	cluster nodes=5 ring=16 seed=1 n_val=3 batch=B   make the cluster (first command)
//	preflist key=K node=N          the key's preference list as node N sees it
//	put node=N key=K value=V [w= pw= dw= sloppy_quorum= ctx=true]
//	get node=N key=K [r= pr= notfound_ok= basic_quorum= sloppy_quorum=]
//	delete node=N key=K
//	replicas key=K                 what each vnode stores (read directly)
//	props node=N bucket=B k=v…     set bucket properties through node N
//	show-props node=N bucket=B     n_val and allow_mult as node N sees them
//	bucket-type create|activate|status node=N name=T [k=v…]
//	partition 1,2 3,4,5 | heal | kill N | restart N
//	tick [n=1]                     n periods: a second of the clock, every
//	                               node's tick, then quiescence
//	stabilize [max=60]             tick until the cluster is idle
//	hold [type= from= to=]         hold matching messages on the wire
//	held | deliver [… n=] | release [type= from= to=] | drop [type= from= to=]
//	trace on|off                   print every message delivered
//	transfers                      each node's handoff status
//	wait                           run to quiescence without ticking
//
// A request runs in its own goroutine: its result ("#N …: ok") is printed
// by the command during which it finishes; until then every command
// lists it as pending.
package scenario
