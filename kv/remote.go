package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/coord"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Vnode requests between nodes. A coordinator on one node sends these to
// vnodes on others through the transport; the bodies carry the bucket
// properties the vnode needs, so a vnode never depends on its node having
// seen the latest bucket metadata.

// vnodeProps are the bucket properties a vnode applies.
type vnodeProps struct {
	AllowMult     bool   `msgpack:"am"`
	LastWriteWins bool   `msgpack:"lww"`
	DVV           bool   `msgpack:"dvv"`
	Young         int64  `msgpack:"yv"`
	Old           int64  `msgpack:"ov"`
	Small         int    `msgpack:"sv"`
	Big           int    `msgpack:"bv"`
	SyncOnWrite   string `msgpack:"sync"`
}

func toVnodeProps(p Props) vnodeProps {
	return vnodeProps{AllowMult: p.AllowMult, LastWriteWins: p.LastWriteWins, DVV: p.DVVEnabled,
		Young: p.YoungVclock, Old: p.OldVclock, Small: p.SmallVclock, Big: p.BigVclock, SyncOnWrite: p.SyncOnWrite}
}

func (v vnodeProps) props() Props {
	p := DefaultProps()
	p.AllowMult, p.LastWriteWins, p.DVVEnabled = v.AllowMult, v.LastWriteWins, v.DVV
	p.YoungVclock, p.OldVclock, p.SmallVclock, p.BigVclock = v.Young, v.Old, v.Small, v.Big
	p.SyncOnWrite = v.SyncOnWrite
	return p
}

// vnodeReq is the body of every kv message.
type vnodeReq struct {
	Partition int        `msgpack:"p"`
	Type      string     `msgpack:"t"`
	Bucket    string     `msgpack:"b"`
	Key       string     `msgpack:"k"`
	Props     vnodeProps `msgpack:"props"`
	// Obj is an encoded object: the object to merge (put) or, for a
	// coordinated put, a one-sibling object holding the new value.
	Obj  []byte `msgpack:"o,omitempty"`
	Ctx  []byte `msgpack:"c,omitempty"` // coordinated put: the client's vclock
	Sync bool   `msgpack:"s,omitempty"`
}

// coordUpdateReq has a vnode coordinate a data-type write: the vnode
// request (Obj holds one sibling with the write's metadata) and the update
// as data.
type coordUpdateReq struct {
	vnodeReq `msgpack:",inline"`
	Update   Update `msgpack:"u"`
}

// vnodeResp answers a kv message: the vnode's object (nil: none).
type vnodeResp struct {
	Obj []byte `msgpack:"o,omitempty"`
}

func (r *vnodeReq) key() Key { return Key{Type: r.Type, Bucket: r.Bucket, Key: r.Key} }

func newVnodeReq(t ring.Target, k Key, props Props) vnodeReq {
	return vnodeReq{Partition: t.Partition, Type: k.Type, Bucket: k.Bucket, Key: k.Key, Props: toVnodeProps(props)}
}

func encodeOpt(o *siblings.Object) []byte {
	if o == nil {
		return nil
	}
	return wire.EncodeObject(o)
}

func decodeOpt(b []byte) (*siblings.Object, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return wire.DecodeObject(b)
}

// ErrUnavailable wraps a failure to reach a vnode on another node (the
// client faces answer 503).
var ErrUnavailable = errors.New("riakgo/kv: vnode unavailable")

// guarded runs a handler as background work of the service, so that Close
// waits for it and a closed service refuses requests.
func (s *Service) guarded(h transport.Handler) transport.Handler {
	return func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		if !s.startBackground() {
			return nil, ErrClosed
		}
		defer s.doneBackground()
		return h(ctx, from, body)
	}
}

// ReplicaSiblingsFactor scales the sibling limit for objects a peer sends
// to merge (replication, read repair). Every write a client makes is
// checked against the limits where it is coordinated (kv_coord_put and
// kv_coord_update run the same checks as a local write); a repair merges
// replicas and may legitimately hold more siblings than one write may
// leave, and refusing it would keep replicas apart forever (DESIGN:
// limits never apply to repair). No run of accepted writes and merges
// comes near ten times the limit; an object beyond it was built to hurt
// the node (issue 12: 10,000 siblings through kv_put).
const ReplicaSiblingsFactor = 10

// checkReplica refuses an object sent for merging that is beyond any
// object accepted writes and merges produce.
func (s *Service) checkReplica(o *siblings.Object) error {
	l := s.cfg.Limits
	if l.MaxSiblings > 0 && len(o.Siblings) > l.MaxSiblings*ReplicaSiblingsFactor {
		return &siblings.TooManySiblingsError{Siblings: len(o.Siblings), Max: l.MaxSiblings * ReplicaSiblingsFactor}
	}
	return nil
}

// registerHandlers serves the kv messages on the transport.
func (s *Service) registerHandlers(t transport.Transport) {
	t.Handle(wire.MsgKVGet, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req vnodeReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		if to := s.forwardTo(req.Partition); to != "" {
			return s.forward(ctx, to, wire.MsgKVGet, &req)
		}
		v, err := s.localVnode(req.Partition)
		if err != nil {
			return nil, err
		}
		o, err := v.Get(req.key())
		if err != nil {
			return nil, err
		}
		return vnodeResp{Obj: encodeOpt(o)}, nil
	}))
	t.Handle(wire.MsgKVPut, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req vnodeReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		in, err := decodeOpt(req.Obj)
		if err != nil || in == nil {
			return nil, fmt.Errorf("riakgo/kv: put without a valid object: %v", err)
		}
		if err := s.checkReplica(in); err != nil {
			return nil, s.toRemote(err)
		}
		if to := s.forwardTo(req.Partition); to != "" {
			return s.forward(ctx, to, wire.MsgKVPut, &req)
		}
		v, err := s.localVnode(req.Partition)
		if err != nil {
			return nil, err
		}
		o, err := v.Put(req.key(), in, req.Props.props(), req.Sync)
		if fe := (*ForwardError)(nil); errors.As(err, &fe) {
			return s.forward(ctx, fe.To, wire.MsgKVPut, &req)
		}
		if err != nil {
			return nil, err
		}
		return vnodeResp{Obj: encodeOpt(o)}, nil
	}))
	t.Handle(wire.MsgKVCoordPut, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req vnodeReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		in, err := decodeOpt(req.Obj)
		if err != nil || in == nil || len(in.Siblings) != 1 {
			return nil, fmt.Errorf("riakgo/kv: coordinated put without a value: %v", err)
		}
		var vc vclock.VClock
		if len(req.Ctx) > 0 {
			if err := vc.UnmarshalBinary(req.Ctx); err != nil {
				return nil, err
			}
		}
		if to := s.forwardTo(req.Partition); to != "" {
			return s.forward(ctx, to, wire.MsgKVCoordPut, &req)
		}
		v, err := s.localVnode(req.Partition)
		if err != nil {
			return nil, err
		}
		o, err := v.CoordPut(req.key(), in.Siblings[0], vc, req.Props.props(), req.Sync)
		if fe := (*ForwardError)(nil); errors.As(err, &fe) {
			return s.forward(ctx, fe.To, wire.MsgKVCoordPut, &req)
		}
		if err != nil {
			return nil, s.toRemote(err)
		}
		return vnodeResp{Obj: encodeOpt(o)}, nil
	}))
	t.Handle(wire.MsgKVCoordUpdate, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req coordUpdateReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		in, err := decodeOpt(req.Obj)
		if err != nil || in == nil || len(in.Siblings) != 1 {
			return nil, fmt.Errorf("riakgo/kv: coordinated update without its metadata: %v", err)
		}
		if s.Vnode(req.Partition) == nil {
			if to := s.forwardTo(req.Partition); to != "" {
				var resp vnodeResp
				if err := s.tr.Call(ctx, to, wire.MsgKVCoordUpdate, &req, &resp); err != nil {
					return nil, passOn(err)
				}
				return resp, nil
			}
		}
		m, err := s.mutation(&req.Update)
		if err != nil {
			return nil, s.toRemote(err)
		}
		v, err := s.localVnode(req.Partition)
		if err != nil {
			return nil, err
		}
		o, err := v.CoordUpdate(req.key(), m, in.Siblings[0].Meta, req.Props.props(), req.Sync)
		if fe := (*ForwardError)(nil); errors.As(err, &fe) && fe.Obj != nil {
			// Applied on a vnode that forwards: the new owner takes the
			// result before the coordinator hears of it.
			fwd := req.vnodeReq
			fwd.Obj = wire.EncodeObject(fe.Obj)
			var resp vnodeResp
			if err := s.tr.Call(ctx, fe.To, wire.MsgKVPut, &fwd, &resp); err != nil {
				return nil, passOn(err)
			}
			return vnodeResp{Obj: encodeOpt(o)}, nil
		}
		if err != nil {
			return nil, s.toRemote(err)
		}
		return vnodeResp{Obj: encodeOpt(o)}, nil
	}))
	t.Handle(wire.MsgKVCoverage, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req covReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		return s.serveCoverage(ctx, &req)
	}))
	t.Handle(wire.MsgKVReap, s.guarded(func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req vnodeReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		if s.forwardTo(req.Partition) != "" {
			return vnodeResp{}, nil // moving or moved: its tombstones stay
		}
		v, err := s.localVnode(req.Partition)
		if err != nil {
			return nil, err
		}
		v.Reap(req.key(), s.cfg.DeleteMode)
		return vnodeResp{}, nil
	}))
}

// forward passes a vnode request on to the node its partition moved to
// and returns that node's answer.
func (s *Service) forward(ctx context.Context, to ring.NodeID, typ wire.MsgType, req *vnodeReq) (any, error) {
	var resp vnodeResp
	if err := s.tr.Call(ctx, to, typ, req, &resp); err != nil {
		return nil, passOn(err)
	}
	return resp, nil
}

// passOn returns the error of a call made on behalf of another node so
// that its code reaches that node unchanged.
func passOn(err error) error {
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return transport.Errorf(re.Code, "%s", re.Message)
	}
	return err
}

// remote performs one vnode action on another node and returns the event
// to feed the coordinator.
func (s *Service) remote(ctx context.Context, k Key, props Props, a coord.Action, syncOne, syncAll bool) coord.Event {
	call := func(typ wire.MsgType, t ring.Target, req any) (*siblings.Object, error) {
		var resp vnodeResp
		if err := s.tr.Call(ctx, t.Node, typ, req, &resp); err != nil {
			var re *transport.RemoteError
			if errors.As(err, &re) {
				return nil, s.fromRemote(err)
			}
			return nil, UserErrorf(ErrUnavailable, "%s on %s: %v", typ, t.Node, err)
		}
		return decodeOpt(resp.Obj)
	}
	switch a := a.(type) {
	case coord.SendGet:
		o, err := call(wire.MsgKVGet, a.Target, newVnodeReq(a.Target, k, props))
		return coord.GetReply{Index: a.Index, Obj: o, Err: err}
	case coord.SendCoordPut:
		req := newVnodeReq(a.Target, k, props)
		if u := updateOf(a); u != nil {
			req.Obj = wire.EncodeObject(&siblings.Object{Siblings: []siblings.Sibling{{Meta: a.Put.Meta}}})
			req.Sync = syncOne
			o, err := call(wire.MsgKVCoordUpdate, a.Target, coordUpdateReq{vnodeReq: req, Update: *u})
			return coord.PutReply{Index: a.Index, Durable: true, Obj: o, Err: err}
		}
		req.Obj = wire.EncodeObject(&siblings.Object{Siblings: []siblings.Sibling{a.Put}})
		if len(a.Ctx) > 0 {
			req.Ctx = a.Ctx.AppendBinary(nil)
		}
		req.Sync = syncOne
		o, err := call(wire.MsgKVCoordPut, a.Target, req)
		return coord.PutReply{Index: a.Index, Durable: true, Obj: o, Err: err}
	case coord.SendPut:
		req := newVnodeReq(a.Target, k, props)
		req.Obj = wire.EncodeObject(a.Obj)
		req.Sync = syncAll && !a.Repair
		o, err := call(wire.MsgKVPut, a.Target, req)
		return coord.PutReply{Index: a.Index, Durable: true, Obj: o, Err: err}
	}
	return nil
}
