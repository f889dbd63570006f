package dt

import (
	"maps"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// The context-remove properties of the law harness: a remove sent with a
// context never removes a dot outside that context, and an add and a remove
// of the same thing in one update with a context keep it.

// heldKey is one dot a dot store holds, where it holds it: the map field
// path (pathOf), the kind of thing ('p' field presence, 'e' set element,
// 'f' flag enable, 'r' register assignment, 'c' counter entry) and the set
// element. A counter entry is keyed by its actor alone (dot.Counter 0); its
// value is the entry's dot counter.
type heldKey struct {
	path string
	leaf byte
	elem string
	dot  vclock.Dot
}

// heldDots lists every dot held by a set, flag or map (nil for other
// kinds).
func heldDots(v CRDT) map[heldKey]uint64 {
	out := map[heldKey]uint64{}
	switch x := v.(type) {
	case *Set:
		addElemDots(out, "", x.elems)
	case *Flag:
		for _, d := range x.dots {
			out[heldKey{leaf: 'f', dot: d}] = 1
		}
	case *Map:
		addFieldDots(out, nil, x.fields)
	default:
		return nil
	}
	return out
}

func addElemDots(out map[heldKey]uint64, path string, elems map[string]dotSet) {
	for x, ds := range elems {
		for _, d := range ds {
			out[heldKey{path: path, leaf: 'e', elem: x, dot: d}] = 1
		}
	}
}

func addFieldDots(out map[heldKey]uint64, path []Field, fm fieldMap) {
	for f, fs := range fm {
		fpath := append(slices.Clone(path), f)
		p := pathOf(fpath)
		for _, d := range fs.present {
			out[heldKey{path: p, leaf: 'p', dot: d}] = 1
		}
		for a, e := range fs.ctr {
			out[heldKey{path: p, leaf: 'c', dot: vclock.Dot{Actor: a}}] = e.counter
		}
		addElemDots(out, p, fs.elems)
		for _, r := range fs.regs {
			out[heldKey{path: p, leaf: 'r', dot: r.dot}] = 1
		}
		for _, d := range fs.flag {
			out[heldKey{path: p, leaf: 'f', dot: d}] = 1
		}
		addFieldDots(out, fpath, fs.sub)
	}
}

// probe names something an update both added and removed: a set element
// (elem set) or a map field (elem empty) at path.
type probe struct {
	path  []Field
	field bool
	elem  string
}

// addedAndRemoved lists what op, applied at path, adds and also removes.
func addedAndRemoved(op Op, path []Field) []probe {
	var out []probe
	switch o := op.(type) {
	case SetOp:
		added, removed := map[string]bool{}, map[string]bool{}
		for _, e := range o.Edits {
			for _, x := range e.Elements {
				if e.Remove {
					removed[x] = true
				} else {
					added[x] = true
				}
			}
		}
		for _, x := range slices.Sorted(maps.Keys(added)) {
			if removed[x] {
				out = append(out, probe{path: path, elem: x})
			}
		}
	case MapOp:
		updated, removed := map[Field]bool{}, map[Field]bool{}
		for _, e := range o.Edits {
			fpath := append(slices.Clone(path), e.Field)
			if e.Remove {
				removed[e.Field] = true
				continue
			}
			updated[e.Field] = true
			out = append(out, addedAndRemoved(e.Op, fpath)...)
		}
		for f := range updated {
			if removed[f] {
				out = append(out, probe{path: append(slices.Clone(path), f), field: true})
			}
		}
	}
	return out
}

// present reports whether v holds what pr names.
func (pr probe) present(v CRDT) bool {
	switch x := v.(type) {
	case *Set:
		return x.Contains(pr.elem)
	case *Map:
		fm := x.fields
		var fs *fieldState
		for _, f := range pr.path {
			if fs = fm[f]; fs == nil {
				return false
			}
			fm = fs.sub
		}
		if pr.field {
			return true
		}
		_, ok := fs.elems[pr.elem]
		return ok
	}
	return true
}

// checkContextRemove checks v after op was applied with ctx (held: the
// dots v held before).
func checkContextRemove(v CRDT, op Op, ctx Context, held map[heldKey]uint64, fail func(string, ...any)) {
	if held == nil {
		return
	}
	after := heldDots(v)
	for k, c := range held {
		d := k.dot
		if k.leaf == 'c' {
			d.Counter = c
		}
		if ctx.vv.Covers(d) {
			continue
		}
		got, ok := after[k]
		switch {
		case !ok:
			fail("%#v with context %v removed %c dot %s at %q %q, outside its context", op, ctx.vv, k.leaf, d, k.path, k.elem)
		case k.leaf == 'c' && got < c:
			fail("%#v with context %v moved counter entry %s back to %d", op, ctx.vv, d, got)
		}
	}
	for _, pr := range addedAndRemoved(op, nil) {
		if !pr.present(v) {
			fail("%#v with context %v: %v %q was added and removed in one update and is gone", op, ctx.vv, pr.path, pr.elem)
		}
	}
}

// TestContextRemoveCheckCanFail: the harness's context-remove check reports
// a remove that took a dot its context did not cover, and an add+remove
// that lost the element.
func TestContextRemoveCheckCanFail(t *testing.T) {
	s := &Set{}
	mustApply(t, s, add("x"), aA, Context{})
	empty, _ := NewContext(nil) // a read that saw nothing
	held := heldDots(s)
	mustApply(t, s, remove("x"), aA, Context{}) // what a broken context remove would do
	var msgs []string
	record := func(f string, args ...any) { msgs = append(msgs, f) }
	checkContextRemove(s, remove("x"), empty, held, record)
	if len(msgs) != 1 {
		t.Fatalf("dot outside the context: %d reports, want 1", len(msgs))
	}
	msgs = nil
	op := SetOp{}.Add("y").Remove("y")
	mustApply(t, s, op, aA, Context{}) // y added and removed without a context
	checkContextRemove(s, op, empty, heldDots(s), record)
	if len(msgs) != 1 {
		t.Fatalf("add+remove: %d reports, want 1", len(msgs))
	}
}
