package kv

import (
	"bytes"
	"context"
	"fmt"

	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
)

// Hinted handoff, minimal form: a fallback vnode (one for a partition this
// node does not own) whose owner is up again sends every object it holds
// to the owner, which merges it as a replica write, and then deletes its
// copy of each key that has not changed since it was sent. A write that
// reaches the fallback during the transfer is kept and goes with the next
// round. The batched, resumable transfer protocol with concurrency limits
// and progress reporting belongs to package handoff (the handoff issue);
// this is the part the cluster needs so that writes taken by fallbacks
// during a failure or partition return home.

// HandoffStats reports one round of hinted handoff.
type HandoffStats struct {
	Partitions int // fallback partitions visited with their owner up
	Sent       int // objects sent to their owner
	Dropped    int // local copies deleted after their transfer
	Failed     int // objects that could not be sent (retried next round)
}

// HintedHandoff runs one round over this node's fallback vnodes.
func (s *Service) HintedHandoff(ctx context.Context) (HandoffStats, error) {
	var st HandoffStats
	r := s.Ring()
	for p := range s.vnodes {
		v := s.Vnode(p)
		owner := r.Owner(p)
		if v == nil || owner == s.cfg.Node {
			continue
		}
		if s.cfg.Up != nil && !s.cfg.Up(owner) {
			continue
		}
		if s.tr == nil {
			return st, fmt.Errorf("riakgo/kv: hinted handoff needs a transport")
		}
		st.Partitions++
		if err := s.handoffPartition(ctx, v, ring.Target{Partition: p, Node: owner, Primary: true}, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

type handoffItem struct {
	key Key
	raw []byte
}

func (s *Service) handoffPartition(ctx context.Context, v *Vnode, t ring.Target, st *HandoffStats) error {
	it, err := s.cfg.Engine.NewIterator(storage.SpaceData, v.part, nil, nil)
	if err != nil {
		return err
	}
	var items []handoffItem
	for it.Next() {
		k, ok := parseStorageKey(it.Key())
		if !ok {
			continue
		}
		items = append(items, handoffItem{key: k, raw: bytes.Clone(it.Value())})
		if len(items) == 1000 {
			break // the rest goes in the next round
		}
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return err
	}
	for _, item := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		props, err := s.buckets.props(item.key.Type, item.key.Bucket)
		if err != nil {
			props = DefaultTypedProps() // a bucket of a type this node lost: merge as siblings
		}
		req := newVnodeReq(t, item.key, props)
		req.Obj = item.raw
		var resp vnodeResp
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err = s.tr.Call(cctx, t.Node, wire.MsgKVPut, req, &resp)
		cancel()
		if err != nil {
			st.Failed++
			continue
		}
		st.Sent++
		if v.dropIfUnchanged(item.key, item.raw) {
			st.Dropped++
		}
	}
	return nil
}

// dropIfUnchanged deletes k (and its index entries) if its stored bytes
// are still raw.
func (v *Vnode) dropIfUnchanged(k Key, raw []byte) bool {
	st := v.stripe(k)
	v.locks[st].Lock()
	defer v.locks[st].Unlock()
	o, cur, err := v.read(k)
	if err != nil || cur == nil || !bytes.Equal(cur, raw) {
		return false
	}
	var b storage.Batch
	b.Delete(v.part, appendStorageKey(nil, k))
	addIndexChanges(&b, v.part, k, o, nil)
	if err := v.eng.Write(&b, storage.WriteOptions{}); err != nil {
		v.stored(k, st, nil, 0, false)
		return false
	}
	v.stored(k, st, nil, 0, true)
	return true
}

// parseStorageKey decodes a data-space key (see appendStorageKey).
func parseStorageKey(b []byte) (Key, bool) {
	typ, rest, ok := cutLenPrefixed(b)
	if !ok {
		return Key{}, false
	}
	bucket, rest, ok := cutLenPrefixed(rest)
	if !ok {
		return Key{}, false
	}
	return Key{Type: string(typ), Bucket: string(bucket), Key: string(rest)}, true
}

func cutLenPrefixed(b []byte) (field, rest []byte, ok bool) {
	var n uint64
	var shift uint
	for i := 0; i < len(b) && i < 10; i++ {
		n |= uint64(b[i]&0x7f) << shift
		if b[i] < 0x80 {
			b = b[i+1:]
			if n > uint64(len(b)) {
				return nil, nil, false
			}
			return b[:n], b[n:], true
		}
		shift += 7
	}
	return nil, nil, false
}
