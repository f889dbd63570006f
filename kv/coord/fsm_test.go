package coord_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/riakgo/riakgo/kv/coord"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// Step-machine tests: no goroutines, no storage. Each case feeds events
// one at a time and compares the actions of every step, rendered by
// describeActions, so a failure prints the whole exchange.

var errBoom = errors.New("vnode: disk on fire")

func prim(p int) ring.Target { return ring.Target{Partition: p, Node: node, Primary: true} }
func fallback(p int) ring.Target {
	return ring.Target{Partition: p, Node: "other@127.0.0.1", Primary: false}
}

var primaries3 = []ring.Target{prim(10), prim(11), prim(12)}

func reply(i int, o *siblings.Object) coord.GetReply { return coord.GetReply{Index: i, Obj: o} }
func notfound(i int) coord.GetReply                  { return coord.GetReply{Index: i} }
func failed(i int) coord.GetReply                    { return coord.GetReply{Index: i, Err: errBoom} }

type fsmStep struct {
	ev   coord.Event
	want string // describeActions of the step's output
}

// runSteps feeds steps to step and reports every mismatch with the
// exchange so far.
func runSteps(t *testing.T, name string, start []coord.Action, wantStart string, step func(coord.Event) []coord.Action, steps []fsmStep) {
	t.Helper()
	log := "start → " + describeActions(start)
	if got := describeActions(start); got != wantStart {
		t.Errorf("%s: Start() = %q, want %q", name, got, wantStart)
	}
	for i, s := range steps {
		got := describeActions(step(s.ev))
		log += "\n  " + describeEvent(s.ev) + " → " + got
		if got != s.want {
			t.Errorf("%s: step %d (%s): actions\n   got %q\n  want %q\nexchange:\n  %s", name, i, describeEvent(s.ev), got, s.want, log)
		}
	}
}

func describeEvent(ev coord.Event) string {
	switch e := ev.(type) {
	case coord.GetReply:
		if e.Err != nil {
			return "get-reply " + itoa(e.Index) + " err"
		}
		return "get-reply " + itoa(e.Index) + " " + describe(e.Obj)
	case coord.PutReply:
		s := "put-reply " + itoa(e.Index)
		if e.Err != nil {
			return s + " err " + describeErr(e.Err)
		}
		if !e.Durable {
			s += " w"
		} else {
			s += " dw"
		}
		return s + " " + describe(e.Obj)
	case coord.TimeoutEvent:
		return "timeout"
	}
	return "?"
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestGetFSM(t *testing.T) {
	p := quorum.Get{N: 3, R: 2, NotFoundOK: true}
	pStrict := quorum.Get{N: 3, R: 2, NotFoundOK: false}
	v1 := obj("v1", clk(actA, 1))
	v1b := obj("v1", clk(actA, 1)) // an equal copy from another replica
	v2 := obj("v2", clk(actA, 2))
	w1 := obj("w1", clk(actB, 1))
	td := tomb(clk(actA, 2))
	const start = "get 0; get 1; get 2"

	cases := []struct {
		name      string
		targets   []ring.Target
		p         quorum.Get
		allowMult bool
		canReap   bool
		steps     []fsmStep
		finished  bool
	}{
		{
			name: "two agreeing replies answer at R, the third needs no repair",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, v1), ""},
				{reply(1, v1b), "respond {v1}[a.1:1]"},
				{reply(2, v1), ""},
			},
		},
		{
			name: "concurrent replies are merged and every replica repaired",
			p:    p, allowMult: true, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, v1), ""},
				{reply(1, w1), "respond {v1,w1}[a.1:1 b.1:1]"},
				{reply(2, v1), "repair 0 {v1,w1}[a.1:1 b.1:1]; repair 1 {v1,w1}[a.1:1 b.1:1]; repair 2 {v1,w1}[a.1:1 b.1:1]"},
			},
		},
		{
			name: "allow_mult=false: the merge keeps the latest value",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, v1), ""},
				{reply(1, &siblings.Object{Clock: clk(actB, 1), Siblings: []siblings.Sibling{sib("later", 9)}}), "respond {later}[a.1:1 b.1:1]"},
				{reply(2, v1), "repair 0 {later}[a.1:1 b.1:1]; repair 1 {later}[a.1:1 b.1:1]; repair 2 {later}[a.1:1 b.1:1]"},
			},
		},
		{
			name: "a stale replica and a notfound replica get the merged object",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, v2), ""},
				{notfound(1), "respond {v2}[a.1:2]"},
				{reply(2, v1), "repair 1 {v2}[a.1:2]; repair 2 {v2}[a.1:2]"},
			},
		},
		{
			name: "all tombstones from three primaries: reap",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{reply(1, td), "respond {<del>}[a.1:2]"},
				{reply(2, td), "reap 10,11,12"},
			},
		},
		{
			name:    "all tombstones but one target is a fallback: no reap",
			targets: []ring.Target{prim(10), prim(11), fallback(12)},
			p:       p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{reply(1, td), "respond {<del>}[a.1:2]"},
				{reply(2, td), ""},
			},
		},
		{
			name: "all tombstones but reaping not allowed (custom n_val): no reap",
			p:    p, canReap: false, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{reply(1, td), "respond {<del>}[a.1:2]"},
				{reply(2, td), ""},
			},
		},
		{
			name: "tombstones, but the deadline passes before the third reply: no reap",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{reply(1, td), "respond {<del>}[a.1:2]"},
				{coord.TimeoutEvent{}, ""},
				{reply(2, td), ""},
			},
		},
		{
			name: "tombstones and a failed replica: no reap",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{failed(1), ""},
				{reply(2, td), "respond {<del>}[a.1:2]"},
			},
		},
		{
			name: "tombstone and a notfound replica: repair it, reap later",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{reply(1, td), "respond {<del>}[a.1:2]"},
				{notfound(2), "repair 2 {<del>}[a.1:2]"},
			},
		},
		{
			name: "tombstone and a stale live replica: repair it, reap later",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, td), ""},
				{reply(1, v1), "respond {<del>}[a.1:2]"},
				{reply(2, td), "repair 1 {<del>}[a.1:2]"},
			},
		},
		{
			name: "notfound_ok=true: two quick notfounds answer notfound; the value is repaired",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{notfound(0), ""},
				{notfound(1), "respond nil"},
				{reply(2, v1), "repair 0 {v1}[a.1:1]; repair 1 {v1}[a.1:1]"},
			},
		},
		{
			name: "notfound_ok=false: a notfound does not count toward R",
			p:    pStrict, canReap: true, finished: true,
			steps: []fsmStep{
				{notfound(0), ""},
				{reply(1, v1), ""},
				{reply(2, v1), "respond {v1}[a.1:1]; repair 0 {v1}[a.1:1]"},
			},
		},
		{
			name: "notfound_ok=false: two notfounds make R unreachable → notfound",
			p:    pStrict, canReap: true, finished: true,
			steps: []fsmStep{
				{notfound(0), ""},
				{notfound(1), "respond nil"},
				{reply(2, v1), "repair 0 {v1}[a.1:1]; repair 1 {v1}[a.1:1]"},
			},
		},
		{
			name: "R=1 notfound_ok=false waits for all three notfounds",
			p:    quorum.Get{N: 3, R: 1}, canReap: true, finished: true,
			steps: []fsmStep{
				{notfound(0), ""},
				{notfound(1), ""},
				{notfound(2), "respond nil"},
			},
		},
		{
			name: "R=1 notfound_ok=false basic_quorum stops after two notfounds",
			p:    quorum.Get{N: 3, R: 1, BasicQuorum: true}, canReap: true, finished: true,
			steps: []fsmStep{
				{notfound(0), ""},
				{notfound(1), "respond nil"},
				{notfound(2), ""},
			},
		},
		{
			name: "two errors: r_val_unsatisfied",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{failed(0), ""},
				{failed(1), "respond err unsatisfied r 0/2"},
				{reply(2, v1), ""},
			},
		},
		{
			name: "one error is tolerated at R=2",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{failed(0), ""},
				{reply(1, v1), ""},
				{reply(2, v1), "respond {v1}[a.1:1]"},
			},
		},
		{
			name: "timeout before quorum",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, v2), ""},
				{coord.TimeoutEvent{}, "respond err timeout"},
				{reply(1, v1), ""},
			},
		},
		{
			name: "timeout after the answer still repairs what was seen",
			p:    p, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(0, v2), ""},
				{reply(1, v1), "respond {v2}[a.1:2]"},
				{coord.TimeoutEvent{}, "repair 1 {v2}[a.1:2]"},
			},
		},
		{
			name:    "PR counts only primaries",
			targets: []ring.Target{prim(10), prim(11), fallback(12)},
			p:       quorum.Get{N: 3, R: 2, PR: 2, NotFoundOK: true}, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(2, v1), ""},
				{reply(0, v1), ""},
				{reply(1, v1), "respond {v1}[a.1:1]"},
			},
		},
		{
			name:    "R met from a fallback but PR not: pr_val_unsatisfied",
			targets: []ring.Target{prim(10), prim(11), fallback(12)},
			p:       quorum.Get{N: 3, R: 2, PR: 2, NotFoundOK: true}, canReap: true, finished: true,
			steps: []fsmStep{
				{reply(2, v1), ""},
				{failed(0), ""},
				{reply(1, v1), "respond err unsatisfied pr 1/2"},
			},
		},
		{
			name: "duplicate and out-of-range replies are ignored",
			p:    p, canReap: true, finished: false,
			steps: []fsmStep{
				{reply(0, v1), ""},
				{reply(0, v1), ""},
				{reply(7, v1), ""},
				{reply(-1, v1), ""},
			},
		},
	}
	for _, tc := range cases {
		targets := tc.targets
		if targets == nil {
			targets = primaries3
		}
		f := coord.NewGetFSM(targets, tc.p, tc.allowMult, tc.canReap)
		runSteps(t, tc.name, f.Start(), start, f.Step, tc.steps)
		if f.Finished() != tc.finished {
			t.Errorf("%s: Finished() = %v, want %v", tc.name, f.Finished(), tc.finished)
		}
		if tc.finished && !f.Responded() {
			t.Errorf("%s: finished without responding", tc.name)
		}
		if tc.finished {
			if acts := f.Step(reply(0, v2)); len(acts) != 0 {
				t.Errorf("%s: a finished FSM acted: %s", tc.name, describeActions(acts))
			}
		}
	}
}

// TestGetFSMErrorsAreTyped checks the error values themselves, not only
// their rendering.
func TestGetFSMErrorsAreTyped(t *testing.T) {
	f := coord.NewGetFSM(primaries3, quorum.Get{N: 3, R: 2, NotFoundOK: true}, false, true)
	f.Start()
	f.Step(failed(0))
	acts := f.Step(failed(1))
	if len(acts) != 1 {
		t.Fatalf("actions %s, want one Respond", describeActions(acts))
	}
	var qe *quorum.Error
	if r, ok := acts[0].(coord.Respond); !ok || !errors.As(r.Err, &qe) || qe.Kind != quorum.Unsatisfied || qe.Param != "r" || qe.Need != 2 || qe.Got != 0 {
		t.Fatalf("got %s, want r_val_unsatisfied 0/2", describeActions(acts))
	}
	if qe.Error() != "R-value unsatisfied: 0/2" {
		t.Errorf("message %q", qe.Error())
	}

	f = coord.NewGetFSM(primaries3, quorum.Get{N: 3, R: 2, NotFoundOK: true}, false, true)
	f.Start()
	acts = f.Step(coord.TimeoutEvent{})
	if r, ok := acts[0].(coord.Respond); !ok || r.Err != quorum.ErrTimeout {
		t.Fatalf("timeout: got %s, want Respond{Err: quorum.ErrTimeout}", describeActions(acts))
	}
}

func TestPutFSM(t *testing.T) {
	put := sib("new", 5)
	ctx := clk(actA, 1)
	coordObj := &siblings.Object{Clock: clk(actA, 1, actB, 1), Siblings: []siblings.Sibling{put}}
	const co = "{new}[a.1:1 b.1:1]"
	mixed := []ring.Target{prim(10), fallback(11), prim(12)}
	dw := func(i int) coord.PutReply { return coord.PutReply{Index: i, Durable: true, Obj: coordObj} }
	w := func(i int) coord.PutReply { return coord.PutReply{Index: i, Durable: false} }
	fail := func(i int) coord.PutReply { return coord.PutReply{Index: i, Err: errBoom} }
	tooMany := &siblings.TooManySiblingsError{Siblings: 101, Max: 100}

	cases := []struct {
		name      string
		targets   []ring.Target
		coord     int
		p         quorum.Put
		allowMult bool
		steps     []fsmStep
		finished  bool
	}{
		{
			name:  "coordinator first, then the other N-1; answer at W=DW=2",
			coord: 1, p: quorum.Put{N: 3, W: 2, DW: 2}, finished: true,
			steps: []fsmStep{
				{dw(1), "put 0 " + co + "; put 2 " + co},
				{dw(0), "respond " + co},
				{dw(2), ""},
			},
		},
		{
			name:  "W=DW=1: answer on the coordinator's reply",
			coord: 0, p: quorum.Put{N: 3, W: 1, DW: 1}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co + "; respond " + co},
				{dw(1), ""},
				{dw(2), ""},
			},
		},
		{
			name:  "W=DW=all waits for every replica",
			coord: 0, p: quorum.Put{N: 3, W: 3, DW: 3}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{dw(2), ""},
				{dw(1), "respond " + co},
			},
		},
		{
			name:  "a coordinator error is the answer; nothing is replicated",
			coord: 1, p: quorum.Put{N: 3, W: 2, DW: 2}, finished: true,
			steps: []fsmStep{
				{coord.PutReply{Index: 1, Err: tooMany}, "respond err " + tooMany.Error()},
				{dw(0), ""},
			},
		},
		{
			name:  "one replica failure is tolerated at DW=2",
			coord: 1, p: quorum.Put{N: 3, W: 2, DW: 2}, finished: true,
			steps: []fsmStep{
				{dw(1), "put 0 " + co + "; put 2 " + co},
				{fail(0), ""},
				{dw(2), "respond " + co},
			},
		},
		{
			name:  "two replica failures: dw_val_unsatisfied",
			coord: 1, p: quorum.Put{N: 3, W: 2, DW: 2}, finished: true,
			steps: []fsmStep{
				{dw(1), "put 0 " + co + "; put 2 " + co},
				{fail(0), ""},
				{fail(2), "respond err unsatisfied dw 1/2"},
			},
		},
		{
			name:  "DW=3: the first replica failure already fails it",
			coord: 0, p: quorum.Put{N: 3, W: 2, DW: 3}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{fail(1), "respond err unsatisfied dw 1/3"},
				{dw(2), ""},
			},
		},
		{
			name:    "PW counts only primaries",
			targets: mixed, coord: 0, p: quorum.Put{N: 3, W: 2, DW: 2, PW: 2}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{dw(1), ""}, // w=2 dw=2, but only one primary
				{dw(2), "respond " + co},
			},
		},
		{
			name:    "PW=3 with a fallback in the list: pw_val_unsatisfied",
			targets: mixed, coord: 0, p: quorum.Put{N: 3, W: 2, DW: 2, PW: 3}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{dw(1), ""},
				{dw(2), "respond err unsatisfied pw 2/3"},
			},
		},
		{
			name:    "PW=2 and the other primary fails: pw_val_unsatisfied",
			targets: mixed, coord: 0, p: quorum.Put{N: 3, W: 1, DW: 1, PW: 2}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{fail(2), ""}, // Riak's rule: fails > N-PW
				{dw(1), "respond err unsatisfied pw 1/2"},
			},
		},
		{
			name:  "a vnode's w and then dw reply count as one W",
			coord: 0, p: quorum.Put{N: 3, W: 3, DW: 1}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{w(1), ""},
				{dw(1), ""}, // still only two vnodes have the object
				{w(2), "respond " + co},
				{dw(2), ""},
			},
		},
		{
			name:  "timeout before W",
			coord: 0, p: quorum.Put{N: 3, W: 3, DW: 3}, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{coord.TimeoutEvent{}, "respond err timeout"},
				{dw(1), ""},
			},
		},
		{
			name:  "the answer reconciles the replicas' objects (returnbody)",
			coord: 0, p: quorum.Put{N: 3, W: 2, DW: 2}, allowMult: true, finished: true,
			steps: []fsmStep{
				{dw(0), "put 1 " + co + "; put 2 " + co},
				{coord.PutReply{Index: 1, Durable: true, Obj: &siblings.Object{
					Clock:    clk(actA, 1, actB, 1, actC, 1),
					Siblings: []siblings.Sibling{put, sib("other", 3)},
				}}, "respond {new,other}[a.1:1 b.1:1 c.1:1]"},
				{dw(2), ""},
			},
		},
	}
	for _, tc := range cases {
		targets := tc.targets
		if targets == nil {
			targets = primaries3
		}
		f := coord.NewPutFSM(targets, tc.coord, put, ctx, tc.p, tc.allowMult)
		wantStart := "coordput " + itoa(tc.coord) + ` "new" ctx=[a.1:1]`
		runSteps(t, tc.name, f.Start(), wantStart, f.Step, tc.steps)
		if f.Finished() != tc.finished {
			t.Errorf("%s: Finished() = %v, want %v", tc.name, f.Finished(), tc.finished)
		}
		if !f.Responded() {
			t.Errorf("%s: never responded", tc.name)
		}
	}
}

// TestPutFSMCoordinatorErrorIsPassedThrough checks the error value itself:
// the HTTP layer maps *siblings.TooManySiblingsError to Riak's 500.
func TestPutFSMCoordinatorErrorIsPassedThrough(t *testing.T) {
	for _, e := range []error{
		&siblings.TooManySiblingsError{Siblings: 4, Max: 3},
		&siblings.TooLargeError{Size: 2000, Max: 1000},
		errBoom,
	} {
		f := coord.NewPutFSM(primaries3, 2, sib("x", 1), nil, quorum.Put{N: 3, W: 2, DW: 2}, true)
		start := f.Start()
		if len(start) != 1 {
			t.Fatalf("Start sent %s, want only the coordinator's put", describeActions(start))
		}
		if cp, ok := start[0].(coord.SendCoordPut); !ok || cp.Index != 2 || cp.Target != primaries3[2] {
			t.Fatalf("Start sent %s, want coordput to index 2", describeActions(start))
		}
		acts := f.Step(coord.PutReply{Index: 2, Err: e})
		if len(acts) != 1 {
			t.Fatalf("%v: actions %s, want one Respond and no replication", e, describeActions(acts))
		}
		r, ok := acts[0].(coord.Respond)
		if !ok || r.Err != e {
			t.Fatalf("%v: got %s, want the coordinator's error as is", e, describeActions(acts))
		}
		if !f.Finished() || !f.Responded() {
			t.Errorf("%v: Finished %v Responded %v, want both", e, f.Finished(), f.Responded())
		}
	}
	var tm *siblings.TooManySiblingsError
	f := coord.NewPutFSM(primaries3, 0, sib("x", 1), nil, quorum.Put{N: 3, W: 2, DW: 2}, true)
	f.Start()
	acts := f.Step(coord.PutReply{Index: 0, Err: &siblings.TooManySiblingsError{Siblings: 4, Max: 3}})
	if !errors.As(acts[0].(coord.Respond).Err, &tm) || !errors.Is(acts[0].(coord.Respond).Err, siblings.ErrLimit) {
		t.Errorf("error %v is not a *TooManySiblingsError wrapping ErrLimit", acts[0].(coord.Respond).Err)
	}
}
