// Package handoff will move partitions between nodes: hinted handoff from
// fallback vnodes back to their primaries, ownership transfers on joins and
// leaves, and anti-entropy exchanges, behind a small Partition interface
// that kv's vnodes satisfy (handoff never imports kv).
//
// Not built yet: it arrives with clustering. A single node owns every
// partition and has nothing to hand off.
package handoff
