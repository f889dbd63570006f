package siblings

import (
	"bytes"
	"sort"

	"github.com/riakgo/riakgo/vclock"
)

// Pair is one user metadata entry (an X-Riak-Meta-* header): the name as the
// client sent it, without the prefix, and its value.
type Pair struct {
	Key   string
	Value string
}

// IndexEntry is one secondary-index term: a lower-case field name ending in
// _bin or _int, and its value (integers in canonical decimal form).
type IndexEntry struct {
	Field string
	Value string
}

// Link is one Riak link to another object, with its tag. Type is empty for
// links into the default bucket type.
type Link struct {
	Type   string
	Bucket string
	Key    string
	Tag    string
}

// Meta is the metadata stored with each sibling.
type Meta struct {
	ContentType     string
	Charset         string
	ContentEncoding string
	// VTag is an opaque token unique to the write that made this sibling.
	VTag string
	// LastModified is the write time in Unix microseconds.
	LastModified int64
	UserMeta     []Pair
	Indexes      []IndexEntry
	Links        []Link
	// Deleted marks a tombstone: the sibling records a delete.
	Deleted bool
}

// Sibling is one value of an object with its metadata and, under dotted
// version vectors, the dot of the write that created it (zero otherwise).
type Sibling struct {
	Dot   vclock.Dot
	Value []byte
	Meta  Meta
}

// Object is what a vnode stores for a key: the version vector of every write
// it reflects and the surviving siblings. An Object is treated as a value:
// functions in this package return new objects and never modify their
// arguments (sibling values are shared, never written to).
type Object struct {
	Clock    vclock.VClock
	Siblings []Sibling
}

// IsTombstone reports whether o exists and every sibling is a delete.
func (o *Object) IsTombstone() bool {
	if o == nil || len(o.Siblings) == 0 {
		return false
	}
	for i := range o.Siblings {
		if !o.Siblings[i].Meta.Deleted {
			return false
		}
	}
	return true
}

// Live returns the number of siblings that are not tombstones.
func (o *Object) Live() int {
	n := 0
	for i := range o.Siblings {
		if !o.Siblings[i].Meta.Deleted {
			n++
		}
	}
	return n
}

// hasDot reports whether o holds a sibling with dot d.
func (o *Object) hasDot(d vclock.Dot) bool {
	for i := range o.Siblings {
		if o.Siblings[i].Dot == d {
			return true
		}
	}
	return false
}

// hasUndotted reports whether o holds an undotted sibling equal to s.
func (o *Object) hasUndotted(s *Sibling) bool {
	for i := range o.Siblings {
		t := &o.Siblings[i]
		if t.Dot.IsZero() && t.Meta.VTag == s.Meta.VTag && bytes.Equal(t.Value, s.Value) {
			return true
		}
	}
	return false
}

// UpdateOptions select the coordinating-put semantics of a bucket.
type UpdateOptions struct {
	// DVV stamps the new value with its dot and lets a write drop exactly the
	// siblings its context had seen (dvv_enabled).
	DVV bool
	// LastWriteWins replaces the stored object without any causal merge
	// (last_write_wins); it excludes DVV.
	LastWriteWins bool
}

// Update is the coordinating vnode's put. local is the stored object (nil if
// the key is absent), put the new value (its Dot is ignored), ctx the causal
// context the client sent (nil for a blind write), actor the coordinating
// vnode's actor for this key and now the wall-clock second.
//
// If ctx descends the stored clock, or the bucket is last-write-wins, the
// new value replaces everything and the clock is ctx plus one event of
// actor. Otherwise the clock becomes the join of ctx and the stored clock
// plus one event; the new value is added as a sibling and, with DVV, every
// stored sibling whose dot ctx covers is dropped (the client saw and
// replaced it). Without DVV every stored sibling is kept.
func Update(local *Object, put Sibling, ctx vclock.VClock, actor vclock.Actor, now int64, opt UpdateOptions) *Object {
	if opt.LastWriteWins && local != nil {
		// Last write wins: the new value replaces everything, and its clock
		// covers the stored one so that no replica's older copy can
		// dominate it on a later merge.
		clock, dot := vclock.Merge(ctx, local.Clock).Increment(actor, now)
		put.Dot = vclock.Dot{}
		if opt.DVV {
			put.Dot = dot
		}
		return &Object{Clock: clock, Siblings: []Sibling{put}}
	}
	if local == nil || ctx.Descends(local.Clock) {
		clock, dot := ctx.Increment(actor, now)
		if opt.DVV {
			put.Dot = dot
		} else {
			put.Dot = vclock.Dot{}
		}
		return &Object{Clock: clock, Siblings: []Sibling{put}}
	}
	frontier, dot := vclock.Merge(ctx, local.Clock).Increment(actor, now)
	out := &Object{Clock: frontier, Siblings: make([]Sibling, 0, len(local.Siblings)+1)}
	for _, s := range local.Siblings {
		if opt.DVV && !s.Dot.IsZero() && ctx.Covers(s.Dot) {
			continue
		}
		out.Siblings = append(out.Siblings, s)
	}
	if opt.DVV {
		put.Dot = dot
	} else {
		put.Dot = vclock.Dot{}
	}
	out.Siblings = append(out.Siblings, put)
	sortSiblings(out.Siblings)
	return out
}

// Merge is the replica merge: what a vnode does with an object it receives
// by replication, read repair or handoff. If one clock strictly descends the
// other, that object wins. Otherwise the result's clock is the join and its
// siblings are:
//
//   - every dotted sibling the other side has not seen, or that both sides
//     hold (kept once);
//   - every undotted sibling, duplicates removed.
//
// Merge is commutative and idempotent, and associative for dotted siblings
// (DVV buckets; property-tested). Undotted siblings (dvv_enabled=false)
// follow Riak 1.x's vector-clock rules, which are not associative. It never
// drops a sibling neither side had superseded. Either argument may be
// nil.
func Merge(a, b *Object) *Object {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if a == b && canonical(a.Siblings) {
		// The same object (the object cache shares one decoded object
		// among a key's equal replicas, so a GET usually merges one
		// object with itself): the merge is a itself, without the copy.
		return a
	}
	ab, ba := a.Clock.Descends(b.Clock), b.Clock.Descends(a.Clock)
	switch {
	case ab && !ba:
		return a
	case ba && !ab:
		return b
	}
	out := &Object{Clock: vclock.Merge(a.Clock, b.Clock), Siblings: make([]Sibling, 0, len(a.Siblings)+len(b.Siblings))}
	for _, s := range a.Siblings {
		if !s.Dot.IsZero() && b.Clock.Covers(s.Dot) && !b.hasDot(s.Dot) {
			continue
		}
		out.Siblings = append(out.Siblings, s)
	}
	for i, s := range b.Siblings {
		if s.Dot.IsZero() {
			if a.hasUndotted(&b.Siblings[i]) {
				continue
			}
		} else if a.hasDot(s.Dot) || a.Clock.Covers(s.Dot) {
			continue
		}
		out.Siblings = append(out.Siblings, s)
	}
	sortSiblings(out.Siblings)
	return out
}

// canonical reports whether s is in the order sortSiblings gives.
func canonical(s []Sibling) bool {
	for i := 1; i < len(s); i++ {
		if siblingLess(&s[i], &s[i-1]) {
			return false
		}
	}
	return true
}

// sortSiblings orders siblings canonically (dotted by dot, then undotted by
// vtag) so that merges are independent of argument order.
func sortSiblings(s []Sibling) {
	if len(s) < 2 {
		return
	}
	sort.SliceStable(s, func(i, j int) bool { return siblingLess(&s[i], &s[j]) })
}

func siblingLess(a, b *Sibling) bool {
	az, bz := a.Dot.IsZero(), b.Dot.IsZero()
	if az != bz {
		return !az // dotted first
	}
	if !az {
		if a.Dot.Actor != b.Dot.Actor {
			return a.Dot.Actor.Less(b.Dot.Actor)
		}
		if a.Dot.Counter != b.Dot.Counter {
			return a.Dot.Counter < b.Dot.Counter
		}
	}
	if a.Meta.VTag != b.Meta.VTag {
		return a.Meta.VTag < b.Meta.VTag
	}
	return bytes.Compare(a.Value, b.Value) < 0
}

// newer reports whether a should win over b under last-write-wins: later
// LastModified, then a live value over a tombstone, then the larger vtag so
// that every replica picks the same one.
func newer(a, b *Sibling) bool {
	if a.Meta.LastModified != b.Meta.LastModified {
		return a.Meta.LastModified > b.Meta.LastModified
	}
	if a.Meta.Deleted != b.Meta.Deleted {
		return !a.Meta.Deleted
	}
	if a.Meta.VTag != b.Meta.VTag {
		return a.Meta.VTag > b.Meta.VTag
	}
	return bytes.Compare(a.Value, b.Value) > 0
}

// ChooseLatest resolves o to its most recent sibling (allow_mult=false),
// keeping the clock. Objects with at most one sibling are returned as is.
func ChooseLatest(o *Object) *Object {
	if o == nil || len(o.Siblings) < 2 {
		return o
	}
	best := 0
	for i := 1; i < len(o.Siblings); i++ {
		if newer(&o.Siblings[i], &o.Siblings[best]) {
			best = i
		}
	}
	return &Object{Clock: o.Clock, Siblings: []Sibling{o.Siblings[best]}}
}

// Reconcile merges replicas' objects into one (nil entries are skipped) and,
// unless allowMult, resolves the result to its latest sibling. It returns
// nil if every entry is nil.
func Reconcile(objs []*Object, allowMult bool) *Object {
	var out *Object
	for _, o := range objs {
		out = Merge(out, o)
	}
	if !allowMult {
		out = ChooseLatest(out)
	}
	return out
}

// Equal reports whether two objects have equal clocks and the same siblings
// (by dot, vtag and value) in the same order.
func Equal(a, b *Object) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !a.Clock.Equal(b.Clock) || len(a.Siblings) != len(b.Siblings) {
		return false
	}
	for i := range a.Siblings {
		x, y := &a.Siblings[i], &b.Siblings[i]
		if x.Dot != y.Dot || x.Meta.VTag != y.Meta.VTag || x.Meta.Deleted != y.Meta.Deleted || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

// LastModified returns the newest LastModified of o's siblings.
func (o *Object) LastModified() int64 {
	var m int64
	for i := range o.Siblings {
		if t := o.Siblings[i].Meta.LastModified; t > m {
			m = t
		}
	}
	return m
}
