package coord_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/kv/coord"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

const node = ring.NodeID("riakgo@127.0.0.1")

// ---- objects for the step-machine tests ----

var (
	actA = vclock.Actor{ID: 0xA, Epoch: 1}
	actB = vclock.Actor{ID: 0xB, Epoch: 1}
	actC = vclock.Actor{ID: 0xC, Epoch: 1}
)

// clk builds a clock from actor/counter pairs.
func clk(pairs ...any) vclock.VClock {
	var es []vclock.Entry
	for i := 0; i < len(pairs); i += 2 {
		es = append(es, vclock.Entry{Actor: pairs[i].(vclock.Actor), Counter: uint64(pairs[i+1].(int))})
	}
	return vclock.Normalize(es)
}

// sib is a live sibling v with a vtag and timestamp derived from it.
func sib(v string, lm int64) siblings.Sibling {
	return siblings.Sibling{Value: []byte(v), Meta: siblings.Meta{VTag: "tag-" + v, LastModified: lm}}
}

// obj is an undotted object with one live value.
func obj(v string, c vclock.VClock) *siblings.Object {
	return &siblings.Object{Clock: c, Siblings: []siblings.Sibling{sib(v, 1)}}
}

// tomb is a tombstone object.
func tomb(c vclock.VClock) *siblings.Object {
	s := sib("", 2)
	s.Meta.Deleted = true
	s.Meta.VTag = "tag-del"
	return &siblings.Object{Clock: c, Siblings: []siblings.Sibling{s}}
}

// describe renders o as "{v1,v2}[clock]" (tombstone siblings as <del>),
// independent of sibling order.
func describe(o *siblings.Object) string {
	if o == nil {
		return "nil"
	}
	vals := make([]string, len(o.Siblings))
	for i, s := range o.Siblings {
		if s.Meta.Deleted {
			vals[i] = "<del>"
		} else {
			vals[i] = string(s.Value)
		}
	}
	slices.Sort(vals)
	return "{" + strings.Join(vals, ",") + "}" + describeClock(o.Clock)
}

func describeClock(c vclock.VClock) string {
	parts := make([]string, len(c))
	for i, e := range c {
		parts[i] = fmt.Sprintf("%x.%d:%d", e.Actor.ID, e.Actor.Epoch, e.Counter)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// values returns o's live sibling values, sorted.
func values(o *siblings.Object) []string {
	if o == nil {
		return nil
	}
	var out []string
	for _, s := range o.Siblings {
		if !s.Meta.Deleted {
			out = append(out, string(s.Value))
		}
	}
	slices.Sort(out)
	return out
}

// describeErr renders quorum errors structurally ("unsatisfied r 0/2"),
// others by their message.
func describeErr(err error) string {
	var qe *quorum.Error
	if !errors.As(err, &qe) {
		return err.Error()
	}
	switch qe.Kind {
	case quorum.Violation:
		return fmt.Sprintf("violation %s %d", qe.Param, qe.Need)
	case quorum.NValViolation:
		return fmt.Sprintf("n_val_violation %s n=%d", qe.Param, qe.N)
	case quorum.Unsatisfied:
		return fmt.Sprintf("unsatisfied %s %d/%d", qe.Param, qe.Got, qe.Need)
	case quorum.InsufficientVnodes:
		return fmt.Sprintf("insufficient_vnodes %d/%d", qe.Got, qe.Need)
	case quorum.TooManyFails:
		return "too_many_fails"
	case quorum.Timeout:
		return "timeout"
	}
	return qe.Error()
}

// describeAction renders one action compactly for table comparisons.
func describeAction(a coord.Action) string {
	switch a := a.(type) {
	case coord.SendGet:
		return fmt.Sprintf("get %d", a.Index)
	case coord.SendCoordPut:
		return fmt.Sprintf("coordput %d %q ctx=%s", a.Index, a.Put.Value, describeClock(a.Ctx))
	case coord.SendPut:
		verb := "put"
		if a.Repair {
			verb = "repair"
		}
		return fmt.Sprintf("%s %d %s", verb, a.Index, describe(a.Obj))
	case coord.SendReap:
		idx := make([]string, len(a.Targets))
		for i, t := range a.Targets {
			idx[i] = fmt.Sprint(t.Partition)
		}
		return "reap " + strings.Join(idx, ",")
	case coord.Respond:
		if a.Err != nil {
			return "respond err " + describeErr(a.Err)
		}
		return "respond " + describe(a.Obj)
	}
	return fmt.Sprintf("?%T", a)
}

func describeActions(acts []coord.Action) string {
	s := make([]string, len(acts))
	for i, a := range acts {
		s[i] = describeAction(a)
	}
	return strings.Join(s, "; ")
}
