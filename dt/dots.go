package dt

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/vclock"
)

// The causal kernel. Set, Flag and Map are dot stores (Almeida, Shoker and
// Baquero's causal δ-CRDTs): every add is tagged with a dot, the value keeps
// the dots of the adds that are still live, and its clock (a version vector,
// never pruned) records every dot it has seen. A dot that the clock has seen
// but the store does not hold was removed; that is why no tombstones are
// needed. The clock is a vclock.VClock whose timestamps are always 0.

// mint returns clock with one more event of actor, and that event's dot.
func mint(clock vclock.VClock, actor vclock.Actor) (vclock.VClock, vclock.Dot, error) {
	if err := checkActor(actor); err != nil {
		return nil, vclock.Dot{}, err
	}
	if clock.Get(actor) == math.MaxUint64 {
		return nil, vclock.Dot{}, fmt.Errorf("%w: actor %s has no events left", ErrOverflow, actor)
	}
	c, d := clock.Increment(actor, 0)
	return c, d, nil
}

// dotSet is a set of dots sorted by actor, then counter. A dotSet is never
// modified in place once built, so values may share them.
type dotSet []vclock.Dot

func dotLess(a, b vclock.Dot) bool {
	if a.Actor != b.Actor {
		return a.Actor.Less(b.Actor)
	}
	return a.Counter < b.Counter
}

// seen is what a remove (or an add replacing earlier adds) has observed: a
// clock, plus the dot of the operation's own batch, which later edits of the
// same batch have seen too (a batch sees its own writes).
type seen struct {
	vv   vclock.VClock
	self vclock.Dot
}

func (s seen) covers(d vclock.Dot) bool {
	return (s.self.Counter != 0 && d == s.self) || s.vv.Covers(d)
}

// joinDots is the dot-store join: dots on both sides survive; a dot on one
// side only survives if the other side's clock has not seen it (if it has,
// the other side removed it).
func joinDots(a, b dotSet, ca, cb vclock.VClock) dotSet {
	if len(b) == 0 {
		if len(a) == 0 {
			return nil
		}
		keep := true
		for _, d := range a {
			if cb.Covers(d) {
				keep = false
				break
			}
		}
		if keep {
			return a
		}
	}
	var out dotSet
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && dotLess(a[i], b[j])):
			if !cb.Covers(a[i]) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || dotLess(b[j], a[i]):
			if !ca.Covers(b[j]) {
				out = append(out, b[j])
			}
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// without returns ds minus the dots s has seen, and whether any were
// removed. ds itself is returned when nothing is removed.
func (ds dotSet) without(s seen) (dotSet, bool) {
	n := 0
	for _, d := range ds {
		if !s.covers(d) {
			n++
		}
	}
	if n == len(ds) {
		return ds, false
	}
	if n == 0 {
		return nil, true
	}
	out := make(dotSet, 0, n)
	for _, d := range ds {
		if !s.covers(d) {
			out = append(out, d)
		}
	}
	return out, true
}

// plus returns {d} plus the dots of ds that s has not seen: an add replaces
// the adds it observed and keeps the concurrent ones.
func (ds dotSet) plus(d vclock.Dot, s seen) dotSet {
	out := make(dotSet, 0, 1)
	for _, x := range ds {
		if x != d && !s.covers(x) {
			out = append(out, x)
		}
	}
	i, _ := slices.BinarySearchFunc(out, d, func(a, b vclock.Dot) int {
		switch {
		case dotLess(a, b):
			return -1
		case dotLess(b, a):
			return 1
		}
		return 0
	})
	return slices.Insert(out, i, d)
}

// MaxDeferred bounds the distinct contexts of deferred removes one value may
// hold because of local operations. A context remove that would need a new
// one beyond the cap fails with ErrTooManyDeferred; deferred removes are
// never dropped. Merges never refuse, so a value merged from several
// replicas may briefly hold more.
const MaxDeferred = 64

// targetOp says what a deferred remove does at its target.
type targetOp uint8

const (
	targetElem  targetOp = 'e' // drop the seen dots of a set element
	targetField targetOp = 'f' // drop the seen dots of a map field, recursively
	targetFlag  targetOp = 'd' // disable: drop the seen dots of a flag
)

func (o targetOp) valid() bool { return o == targetElem || o == targetField || o == targetFlag }

// target addresses a deferred remove: the map fields leading to it
// (outermost first; for targetField the last one is the removed field), the
// operation and, for targetElem, the element. Deferred removes of a map live
// in the top-level map with their full path, never inside an embedded value,
// so removing the field later cannot lose them (riak_dt#99).
type target struct {
	path []Field
	op   targetOp
	elem string
}

func compareTarget(a, b target) int {
	if c := slices.CompareFunc(a.path, b.path, compareField); c != 0 {
		return c
	}
	if a.op != b.op {
		if a.op < b.op {
			return -1
		}
		return 1
	}
	return strings.Compare(a.elem, b.elem)
}

// deferredOp is a context remove a replica received before it had seen the
// whole context. After every merge its seen dots are removed; once the clock
// descends ctx it is complete and dropped.
type deferredOp struct {
	ctx     vclock.VClock
	key     string // canonical bytes of ctx: the sort and lookup key
	targets []target
}

// deferredList is sorted by key, keys unique. Like dotSet, its entries are
// never modified in place.
type deferredList []deferredOp

func ctxKey(vc vclock.VClock) string { return string(appendContextEntries(nil, vc)) }

func normTargets(ts []target) []target {
	out := slices.Clone(ts)
	slices.SortFunc(out, compareTarget)
	return slices.CompactFunc(out, func(a, b target) bool { return compareTarget(a, b) == 0 })
}

func unionTargets(a, b []target) []target {
	out := make([]target, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	return normTargets(out)
}

// with returns l plus the removes ts under ctx, or ErrTooManyDeferred if
// that needs a new context beyond MaxDeferred. l is not modified.
func (l deferredList) with(ctx vclock.VClock, ts []target) (deferredList, error) {
	key := ctxKey(ctx)
	i, found := slices.BinarySearchFunc(l, key, func(d deferredOp, k string) int { return strings.Compare(d.key, k) })
	out := slices.Clone(l)
	if found {
		out[i].targets = unionTargets(out[i].targets, ts)
		return out, nil
	}
	if len(l) >= MaxDeferred {
		return nil, ErrTooManyDeferred
	}
	return slices.Insert(out, i, deferredOp{ctx: ctx, key: key, targets: normTargets(ts)}), nil
}

// mergeDeferred is the union of two lists.
func mergeDeferred(a, b deferredList) deferredList {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make(deferredList, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].key < b[j].key):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].key < a[i].key:
			out = append(out, b[j])
			j++
		default:
			d := a[i]
			d.targets = unionTargets(a[i].targets, b[j].targets)
			out = append(out, d)
			i++
			j++
		}
	}
	return out
}

// settle applies every deferred remove with remove(target, seen) and keeps
// the ones clock does not yet descend.
func (l deferredList) settle(clock vclock.VClock, remove func(target, seen)) deferredList {
	if len(l) == 0 {
		return nil
	}
	var out deferredList
	for _, d := range l {
		s := seen{vv: d.ctx}
		for _, t := range d.targets {
			remove(t, s)
		}
		if !clock.Descends(d.ctx) {
			out = append(out, d)
		}
	}
	return out
}
