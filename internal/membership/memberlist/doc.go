// Package memberlist is the product membership.Membership: an adapter over
// hashicorp/memberlist (SWIM failure detection and gossip). It is the only
// riakgo package that imports memberlist; the node wiring creates it with
// New and everything else sees membership.Membership.
//
// # What travels how
//
//   - Liveness: memberlist's probes, suspicion and refutation. A member is
//     alive, suspect (still counted alive), dead or left.
//   - Node meta (membership.Meta, compact JSON, at most 512 bytes) rides
//     on memberlist's alive messages: SetLocalMeta re-advertises the node
//     (memberlist's UpdateNode), and peers see an EventUpdate.
//   - The StateHandler's state rides on memberlist's push/pull: every
//     Config.PushPullInterval a node exchanges full state with one random
//     peer over a stream connection, and a Join does the same with each
//     seed. LocalState is sent; the peer's state goes to MergeRemoteState.
//   - Broadcast: a payload that fits in a gossip packet (about 1.3 KB) is
//     queued on a memberlist TransmitLimitedQueue and piggy-backed on
//     gossip, retransmitted RetransmitMult·log(N+1) times; a newer
//     broadcast replaces a queued one. A larger payload (a ring of many
//     partitions) is sent to every live member over memberlist's reliable
//     stream (SendReliable) by one background goroutine, which likewise
//     sends only the newest payload waiting. Both arrive at the peers'
//     NotifyMsg and go to MergeRemoteState. Each user message carries a
//     one-byte type (append-only numbering) so that others can be added.
//   - Leave vs failure: memberlist reports both as NotifyLeave and does not
//     say which (its Node.State is never set, nor is suspicion published),
//     so Leave first sends the peers a leaving note; a member reported
//     gone after its note is Left (EventLeave), otherwise Dead (EventFail).
//
// # Time
//
// memberlist runs on the wall clock and its own goroutines and timers; it
// cannot take riakgo's injected clock.Clock. That is why the static
// implementation exists for deterministic tests. This package's own tests
// run memberlist with DefaultLocalConfig timings on an in-memory packet
// and stream network, and wait for conditions with deadlines.
//
// # Logging
//
// memberlist's log lines ("[DEBUG] memberlist: ...") are parsed for their
// level and passed to Config.Logger (slog), with component=memberlist.
package memberlist
