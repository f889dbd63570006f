package coord

import (
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Event is an input to a coordinator step machine.
type Event interface{ isEvent() }

// Action is an output of a coordinator step machine, for the driver to
// perform.
type Action interface{ isAction() }

// GetReply is a vnode's answer to a read: an object, nil for notfound, or
// an error.
type GetReply struct {
	Index int // position in the preference list
	Obj   *siblings.Object
	Err   error
}

// PutReply is a vnode's answer to a write. Durable means the object is in
// storage (Riak's dw); a reply that is not durable only acknowledges
// receipt (w). Obj is the object the vnode now stores.
type PutReply struct {
	Index   int
	Durable bool
	Obj     *siblings.Object
	Err     error
}

// TimeoutEvent tells a coordinator that its deadline has passed.
type TimeoutEvent struct{}

func (GetReply) isEvent()     {}
func (PutReply) isEvent()     {}
func (TimeoutEvent) isEvent() {}

// SendGet asks the driver to read the key from a vnode.
type SendGet struct {
	Index  int
	Target ring.Target
}

// SendCoordPut asks the driver to have a vnode coordinate the write.
type SendCoordPut struct {
	Index  int
	Target ring.Target
	Put    siblings.Sibling
	Ctx    vclock.VClock
	// Update, when set, is a write the vnode computes from its local copy
	// (the driver's *kv.Update, opaque to the step machine); Put then
	// carries only the vtag and timestamp.
	Update any
}

// SendPut asks the driver to merge an object into a vnode's copy.
type SendPut struct {
	Index  int
	Target ring.Target
	Obj    *siblings.Object
	Repair bool // read repair rather than replication of a client write
}

// SendReap asks the driver to have the primaries reap a tombstone.
type SendReap struct {
	Targets []ring.Target
}

// Respond carries the answer for the client.
type Respond struct {
	Obj *siblings.Object // merged object; nil when not found
	Err error
}

func (SendGet) isAction()      {}
func (SendCoordPut) isAction() {}
func (SendPut) isAction()      {}
func (SendReap) isAction()     {}
func (Respond) isAction()      {}

// GetFSM coordinates one read: it asks every vnode of the preference list,
// answers once the quorum core has enough, then, when every vnode has
// replied, read-repairs stale replicas and, for a tombstone held by all N
// primaries, asks them to reap it. Not safe for concurrent use.
type GetFSM struct {
	targets   []ring.Target
	core      *quorum.GetCore
	allowMult bool
	canReap   bool
	replies   []GetReply
	got       []bool
	received  int
	responded bool
	finished  bool
}

// NewGetFSM returns a read coordinator over targets with parameters p.
// canReap allows reaping a tombstone (the bucket's own n_val); the FSM
// itself also requires a full preference list of primaries.
func NewGetFSM(targets []ring.Target, p quorum.Get, allowMult, canReap bool) *GetFSM {
	allPrimary := true
	for _, t := range targets {
		allPrimary = allPrimary && t.Primary
	}
	return &GetFSM{
		targets:   targets,
		core:      quorum.NewGetCore(p),
		allowMult: allowMult,
		canReap:   canReap && allPrimary && len(targets) == p.N,
		replies:   make([]GetReply, len(targets)),
		got:       make([]bool, len(targets)),
	}
}

// Start returns the initial sends.
func (f *GetFSM) Start() []Action {
	out := make([]Action, len(f.targets))
	for i, t := range f.targets {
		out[i] = SendGet{Index: i, Target: t}
	}
	return out
}

// Responded reports whether the client has been answered.
func (f *GetFSM) Responded() bool { return f.responded }

// Finished reports whether the coordinator has nothing left to do.
func (f *GetFSM) Finished() bool { return f.finished }

// Step feeds one event and returns the resulting actions.
func (f *GetFSM) Step(ev Event) []Action {
	if f.finished {
		return nil
	}
	var out []Action
	switch e := ev.(type) {
	case GetReply:
		if e.Index < 0 || e.Index >= len(f.targets) || f.got[e.Index] {
			return nil
		}
		f.got[e.Index] = true
		f.replies[e.Index] = e
		f.received++
		kind := quorum.ReplyOK
		switch {
		case e.Err != nil:
			kind = quorum.ReplyFail
		case e.Obj == nil:
			kind = quorum.ReplyNotFound
		case e.Obj.IsTombstone():
			kind = quorum.ReplyDeleted
		}
		f.core.AddFrom(f.targets[e.Index].Primary, string(f.targets[e.Index].Node), kind)
		if !f.responded && (f.core.Enough() || f.received == len(f.targets)) {
			out = append(out, f.respond())
		}
		if f.received == len(f.targets) {
			out = append(out, f.finish()...)
		}
	case TimeoutEvent:
		if !f.responded {
			f.responded = true
			out = append(out, Respond{Err: quorum.ErrTimeout})
		}
		out = append(out, f.finish()...)
	}
	return out
}

// merged reconciles every object received so far.
func (f *GetFSM) merged() *siblings.Object {
	var objs []*siblings.Object
	for i, r := range f.replies {
		if f.got[i] && r.Err == nil && r.Obj != nil {
			objs = append(objs, r.Obj)
		}
	}
	return siblings.Reconcile(objs, f.allowMult)
}

func (f *GetFSM) respond() Action {
	f.responded = true
	outcome, err := f.core.Response()
	switch outcome {
	case quorum.OutcomeError:
		return Respond{Err: err}
	case quorum.OutcomeNotFound:
		if m := f.merged(); m != nil && m.IsTombstone() {
			return Respond{Obj: m}
		}
		return Respond{}
	}
	return Respond{Obj: f.merged()}
}

// finish computes read repair and reaping once no more replies will come.
func (f *GetFSM) finish() []Action {
	f.finished = true
	m := f.merged()
	if m == nil {
		return nil
	}
	var out []Action
	// Reap only as Riak's get core decides "delete": every replica
	// answered with an object (a notfound is not one) and none needs a
	// repair. Otherwise repair now; a later read reaps.
	allObjects := f.received == len(f.targets)
	for i, r := range f.replies {
		if !f.got[i] || r.Err != nil || r.Obj == nil {
			allObjects = false
		}
		if !f.got[i] || r.Err != nil {
			continue
		}
		if r.Obj == nil || m.Clock.Dominates(r.Obj.Clock) {
			out = append(out, SendPut{Index: i, Target: f.targets[i], Obj: m, Repair: true})
		}
	}
	if len(out) == 0 && m.IsTombstone() && f.canReap && allObjects {
		out = append(out, SendReap{Targets: f.targets})
	}
	return out
}

// PutFSM coordinates one write: the coordinating vnode makes the new object,
// which is then merged into the other replicas; the client is answered when
// the quorum core has enough W/DW/PW replies. Not safe for concurrent use.
type PutFSM struct {
	targets   []ring.Target
	coord     int
	put       siblings.Sibling
	ctx       vclock.VClock
	update    any
	core      *quorum.PutCore
	allowMult bool
	objs      []*siblings.Object
	wSeen     []bool // the vnode's w (receipt) has been counted
	replied   []bool
	closed    int
	responded bool
	finished  bool
}

// NewPutFSM returns a write coordinator: targets[coord] coordinates.
func NewPutFSM(targets []ring.Target, coord int, put siblings.Sibling, ctx vclock.VClock, p quorum.Put, allowMult bool) *PutFSM {
	return &PutFSM{
		targets: targets, coord: coord, put: put, ctx: ctx,
		core: quorum.NewPutCore(p), allowMult: allowMult,
		replied: make([]bool, len(targets)), wSeen: make([]bool, len(targets)),
	}
}

// WithUpdate makes the coordinator compute the value with u (the driver's
// update, carried in SendCoordPut) instead of storing put's value.
func (f *PutFSM) WithUpdate(u any) *PutFSM {
	f.update = u
	return f
}

// Start returns the coordinating vnode's put.
func (f *PutFSM) Start() []Action {
	return []Action{SendCoordPut{Index: f.coord, Target: f.targets[f.coord], Put: f.put, Ctx: f.ctx, Update: f.update}}
}

// Responded reports whether the client has been answered.
func (f *PutFSM) Responded() bool { return f.responded }

// Finished reports whether every vnode has answered (or the deadline passed).
func (f *PutFSM) Finished() bool { return f.finished }

// Step feeds one event and returns the resulting actions.
func (f *PutFSM) Step(ev Event) []Action {
	if f.finished {
		return nil
	}
	var out []Action
	switch e := ev.(type) {
	case PutReply:
		if e.Index < 0 || e.Index >= len(f.targets) || f.replied[e.Index] {
			return nil
		}
		primary := f.targets[e.Index].Primary
		if e.Err != nil {
			f.replied[e.Index] = true
			f.closed++
			if e.Index == f.coord {
				// The coordinator's own write failed (limits, storage):
				// the request fails with its reason and nothing is sent.
				f.responded, f.finished = true, true
				return []Action{Respond{Err: e.Err}}
			}
			f.core.Add(primary, quorum.PutFail)
		} else {
			// A vnode may acknowledge receipt (w) before durability (dw);
			// its w counts once.
			if !f.wSeen[e.Index] {
				f.wSeen[e.Index] = true
				f.core.Add(primary, quorum.PutW)
			}
			if !e.Durable {
				return f.check(out)
			}
			f.replied[e.Index] = true
			f.closed++
			f.core.AddFrom(primary, string(f.targets[e.Index].Node), quorum.PutDW)
			f.objs = append(f.objs, e.Obj)
			if e.Index == f.coord {
				for i, t := range f.targets {
					if i != f.coord {
						out = append(out, SendPut{Index: i, Target: t, Obj: e.Obj})
					}
				}
			}
		}
		out = f.check(out)
	case TimeoutEvent:
		if !f.responded {
			f.responded = true
			out = append(out, Respond{Err: quorum.ErrTimeout})
		}
		f.finished = true
	}
	return out
}

func (f *PutFSM) check(out []Action) []Action {
	if !f.responded && (f.core.Enough() || f.closed == len(f.targets)) {
		f.responded = true
		if err := f.core.Response(); err != nil {
			out = append(out, Respond{Err: err})
		} else {
			out = append(out, Respond{Obj: siblings.Reconcile(f.objs, f.allowMult)})
		}
	}
	if f.closed == len(f.targets) {
		f.finished = true
	}
	return out
}
