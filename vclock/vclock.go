package vclock

import (
	"fmt"
	"sort"
	"strings"
)

// Actor identifies one serial stream of events: a vnode id and the epoch
// that vnode minted for a key. Two actors are equal only if both parts are.
type Actor struct {
	// ID is the random 64-bit id of the vnode.
	ID uint64
	// Epoch is the per-key epoch taken from the vnode's leased counter.
	Epoch uint32
}

// Less orders actors by ID, then Epoch. Clocks are kept sorted by it.
func (a Actor) Less(b Actor) bool {
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	return a.Epoch < b.Epoch
}

// IsZero reports whether a is the zero actor, which no vnode ever uses.
func (a Actor) IsZero() bool { return a.ID == 0 && a.Epoch == 0 }

// String formats the actor as hex id and epoch, e.g. "9f2c…:3".
func (a Actor) String() string { return fmt.Sprintf("%016x:%d", a.ID, a.Epoch) }

// Dot names exactly one event: the Counter-th event of Actor.
// The zero Dot means "no dot" (an undotted value).
type Dot struct {
	Actor   Actor
	Counter uint64
}

// IsZero reports whether d is the zero (absent) dot.
func (d Dot) IsZero() bool { return d.Counter == 0 }

// String formats the dot as actor@counter.
func (d Dot) String() string {
	if d.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s@%d", d.Actor, d.Counter)
}

// Entry is one actor's position in a version vector. Timestamp is the Unix
// second of the actor's last increment and is used only for pruning.
type Entry struct {
	Actor     Actor
	Counter   uint64
	Timestamp int64
}

// VClock is a version vector: entries sorted by Actor, each actor at most
// once, every counter > 0. The nil clock is the empty clock, which every
// clock descends. A VClock is a value: no function in this package modifies
// a clock passed to it.
type VClock []Entry

// Ordering is the causal relation between two clocks.
type Ordering int

// The four possible orderings of two clocks.
const (
	Equal      Ordering = iota // same events
	Before                     // a happened before b (b strictly descends a)
	After                      // a strictly descends b
	Concurrent                 // neither descends the other
)

// String returns the ordering's name.
func (o Ordering) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	default:
		return "concurrent"
	}
}

// find returns the index of actor a in vc, or -1.
func (vc VClock) find(a Actor) int {
	// Clocks are short (bounded by vnodes × epochs); a linear scan beats a
	// binary search for the usual 1-6 entries.
	if len(vc) <= 8 {
		for i := range vc {
			if vc[i].Actor == a {
				return i
			}
		}
		return -1
	}
	i := sort.Search(len(vc), func(i int) bool { return !vc[i].Actor.Less(a) })
	if i < len(vc) && vc[i].Actor == a {
		return i
	}
	return -1
}

// Get returns the counter of actor a in vc, or 0 if absent.
func (vc VClock) Get(a Actor) uint64 {
	if i := vc.find(a); i >= 0 {
		return vc[i].Counter
	}
	return 0
}

// Covers reports whether vc has seen the event named by d. Every clock
// covers the zero dot.
func (vc VClock) Covers(d Dot) bool {
	return vc.Get(d.Actor) >= d.Counter
}

// Descends reports whether vc has seen every event of o (vc ≥ o). A clock
// descends itself and every clock descends the empty clock.
func (vc VClock) Descends(o VClock) bool {
	if len(o) == 0 {
		return true
	}
	if len(vc) < len(o) {
		// vc lacks at least one of o's actors (entries have counter > 0).
		return false
	}
	// Both are sorted: merge-walk.
	i := 0
	for _, e := range o {
		for i < len(vc) && vc[i].Actor.Less(e.Actor) {
			i++
		}
		if i == len(vc) || vc[i].Actor != e.Actor || vc[i].Counter < e.Counter {
			return false
		}
	}
	return true
}

// Dominates reports whether vc strictly descends o: vc has seen every event
// of o and at least one more.
func (vc VClock) Dominates(o VClock) bool {
	return vc.Descends(o) && !o.Descends(vc)
}

// Equal reports whether both clocks name the same events (timestamps are
// ignored).
func (vc VClock) Equal(o VClock) bool {
	if len(vc) != len(o) {
		return false
	}
	for i := range vc {
		if vc[i].Actor != o[i].Actor || vc[i].Counter != o[i].Counter {
			return false
		}
	}
	return true
}

// Compare returns the causal ordering of a relative to b.
func Compare(a, b VClock) Ordering {
	ab, ba := a.Descends(b), b.Descends(a)
	switch {
	case ab && ba:
		return Equal
	case ab:
		return After
	case ba:
		return Before
	default:
		return Concurrent
	}
}

// Merge returns the least upper bound of the clocks: for each actor the
// highest counter; on equal counters the later timestamp is kept.
func Merge(clocks ...VClock) VClock {
	switch len(clocks) {
	case 0:
		return nil
	case 1:
		return clocks[0].Clone()
	}
	out := clocks[0].Clone()
	for _, c := range clocks[1:] {
		out = merge2(out, c)
	}
	return out
}

func merge2(a, b VClock) VClock {
	out := make(VClock, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].Actor == b[j].Actor:
			e := a[i]
			if b[j].Counter > e.Counter || (b[j].Counter == e.Counter && b[j].Timestamp > e.Timestamp) {
				e = b[j]
			}
			out = append(out, e)
			i++
			j++
		case a[i].Actor.Less(b[j].Actor):
			out = append(out, a[i])
			i++
		default:
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	return out
}

// Increment returns a copy of vc in which actor a has one more event,
// stamped with timestamp ts (Unix seconds), and the dot of that new event.
func (vc VClock) Increment(a Actor, ts int64) (VClock, Dot) {
	out := make(VClock, 0, len(vc)+1)
	var d Dot
	inserted := false
	for _, e := range vc {
		if !inserted && a.Less(e.Actor) {
			out = append(out, Entry{Actor: a, Counter: 1, Timestamp: ts})
			d = Dot{Actor: a, Counter: 1}
			inserted = true
		}
		if e.Actor == a {
			e.Counter++
			e.Timestamp = ts
			d = Dot{Actor: a, Counter: e.Counter}
			inserted = true
		}
		out = append(out, e)
	}
	if !inserted {
		out = append(out, Entry{Actor: a, Counter: 1, Timestamp: ts})
		d = Dot{Actor: a, Counter: 1}
	}
	return out, d
}

// Clone returns a copy of vc that shares no memory with it.
func (vc VClock) Clone() VClock {
	if vc == nil {
		return nil
	}
	out := make(VClock, len(vc))
	copy(out, vc)
	return out
}

// Actors returns the clock's actors in order.
func (vc VClock) Actors() []Actor {
	out := make([]Actor, len(vc))
	for i, e := range vc {
		out[i] = e.Actor
	}
	return out
}

// Valid reports whether vc satisfies the clock invariants: strictly sorted
// actors, no zero actor, every counter > 0. Decoders use it to reject
// malformed input.
func (vc VClock) Valid() bool {
	for i, e := range vc {
		if e.Counter == 0 || e.Actor.IsZero() {
			return false
		}
		if i > 0 && !vc[i-1].Actor.Less(e.Actor) {
			return false
		}
	}
	return true
}

// Normalize returns a valid clock built from arbitrary entries: entries are
// sorted, zero counters dropped and duplicate actors merged (highest
// counter wins). It is for constructing clocks in tests and tools.
func Normalize(entries []Entry) VClock {
	out := make(VClock, 0, len(entries))
	for _, e := range entries {
		if e.Counter == 0 {
			continue
		}
		out = merge2(out, VClock{e})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// String formats the clock as [actor:counter ...] for logs and test output.
func (vc VClock) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range vc {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", e.Actor, e.Counter)
	}
	b.WriteByte(']')
	return b.String()
}
