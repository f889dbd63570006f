package vclock

import "sort"

// PruneProps are the bucket properties that bound a clock's growth, named
// as Riak names them. Young and Old are in seconds, as in Riak.
type PruneProps struct {
	Small int   // never prune while len ≤ Small (small_vclock)
	Big   int   // prune while len > Big (big_vclock)
	Young int64 // never prune while the oldest entry is younger than this (young_vclock, s)
	Old   int64 // prune entries older than this (old_vclock, s)
}

// DefaultPruneProps returns Riak's defaults: small 50, big 50, young 20 s,
// old 86400 s.
func DefaultPruneProps() PruneProps {
	return PruneProps{Small: 50, Big: 50, Young: 20, Old: 86400}
}

// Prune shrinks vc by Riak's rule, with now in Unix seconds:
//
//  1. keep everything while len(vc) ≤ Small;
//  2. keep everything while the oldest entry is younger than Young;
//  3. otherwise drop the oldest entry while len(vc) > Big or the oldest
//     entry is older than Old, re-checking rules 1 and 2 after each drop.
//
// Entries are ordered oldest first by timestamp, ties broken by actor, so
// every replica prunes the same clock the same way. Prune removes causal
// information and can only turn "dominated" into "concurrent" (a spurious
// sibling), never the reverse. It returns vc itself when nothing is pruned.
func Prune(vc VClock, now int64, p PruneProps) VClock {
	if len(vc) <= p.Small {
		return vc
	}
	order := make([]int, len(vc))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool {
		a, b := vc[order[x]], vc[order[y]]
		if a.Timestamp != b.Timestamp {
			return a.Timestamp < b.Timestamp
		}
		return a.Actor.Less(b.Actor)
	})
	drop := make(map[int]bool)
	n := len(vc)
	for _, idx := range order {
		if n <= p.Small {
			break
		}
		age := now - vc[idx].Timestamp
		if age < p.Young {
			break
		}
		if n > p.Big || age > p.Old {
			drop[idx] = true
			n--
			continue
		}
		break
	}
	if len(drop) == 0 {
		return vc
	}
	out := make(VClock, 0, n)
	for i, e := range vc {
		if !drop[i] {
			out = append(out, e)
		}
	}
	return out
}
