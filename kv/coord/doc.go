// Package coord holds the request coordinators of kv as pure step
// machines: GetFSM (ask the N vnodes of the preference list, answer at
// R/PR, then read-repair stale replicas and reap a tombstone all
// primaries hold) and PutFSM (one vnode coordinates the write, its result
// replicates to the others, answer at W/DW/PW). Start and Step take
// events (vnode replies, the deadline) and return actions (send to a
// vnode, answer the client, repair, reap) without doing any I/O, so every
// quorum rule is testable without goroutines, storage or a clock.
//
// The package imports only pure packages (quorum, ring, siblings, vclock)
// and the lint holds it to that. Its one caller is kv's driver
// (kv.Service), which performs the actions on local vnodes and through the
// transport and feeds the replies back as events.
package coord
