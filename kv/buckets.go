package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/riakgo/riakgo/kv/storage"
)

// DefaultType is the name of the built-in bucket type that the untyped
// /buckets and /riak routes use.
const DefaultType = "default"

// bucketID names a bucket within a type.
type bucketID struct{ typ, bucket string }

// buckets holds bucket types and per-bucket property overrides. Overrides
// are persisted as JSON in the storage engine's metadata space and cached.
//
// With clustering this state moves into gossiped cluster metadata; the
// methods stay the same.
type buckets struct {
	eng   storage.Engine
	mu    sync.RWMutex
	types map[string]Props // active types only
	// defined holds every created type (active or not) with its raw
	// property overrides over DefaultTypedProps.
	defined map[string]*typeRecord
	// over caches each bucket's overrides (nil map: none) once loaded.
	over map[bucketID]map[string]json.RawMessage
	// eff caches the effective props of each bucket.
	eff map[bucketID]Props
	// checkResolver reports whether a resolver name is known.
	checkResolver func(string) bool
}

func newBuckets(eng storage.Engine, defaults Props) *buckets {
	return &buckets{
		eng:     eng,
		types:   map[string]Props{DefaultType: defaults},
		defined: map[string]*typeRecord{},
		over:    map[bucketID]map[string]json.RawMessage{},
		eff:     map[bucketID]Props{},
	}
}

func propsMetaKey(id bucketID) []byte {
	k := make([]byte, 0, 8+len(id.typ)+len(id.bucket))
	k = append(k, "bprops\x00"...)
	k = append(k, id.typ...)
	k = append(k, 0)
	return append(k, id.bucket...)
}

// typeProps returns the properties of an active type.
func (b *buckets) typeProps(typ string) (Props, error) {
	b.mu.RLock()
	p, ok := b.types[typ]
	b.mu.RUnlock()
	if !ok {
		return Props{}, fmt.Errorf("%w: %s", ErrUnknownType, typ)
	}
	return p, nil
}

// props returns the effective properties of bucket (typ, bucket).
func (b *buckets) props(typ, bucket string) (Props, error) {
	id := bucketID{typ, bucket}
	b.mu.RLock()
	p, ok := b.eff[id]
	b.mu.RUnlock()
	if ok {
		return p, nil
	}
	tp, err := b.typeProps(typ)
	if err != nil {
		return Props{}, err
	}
	over, err := b.loadOverrides(id)
	if err != nil {
		return Props{}, err
	}
	p = tp
	if len(over) > 0 {
		if p, err = ApplyJSON(tp, over); err != nil {
			// Stored overrides that no longer validate (e.g. the type
			// changed underneath): fall back to the type's props.
			p = tp
		}
	}
	b.mu.Lock()
	if len(b.eff) > 100000 { // bound the cache; it refills on demand
		b.eff = map[bucketID]Props{}
	}
	b.eff[id] = p
	b.mu.Unlock()
	return p, nil
}

func (b *buckets) loadOverrides(id bucketID) (map[string]json.RawMessage, error) {
	b.mu.RLock()
	over, ok := b.over[id]
	b.mu.RUnlock()
	if ok {
		return over, nil
	}
	raw, err := b.eng.GetMeta(propsMetaKey(id))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		over = nil
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(raw, &over); err != nil {
			return nil, fmt.Errorf("riakgo/kv: stored props of %s/%s: %w", id.typ, id.bucket, err)
		}
	}
	b.mu.Lock()
	if len(b.over) > 100000 {
		b.over = map[bucketID]map[string]json.RawMessage{}
	}
	b.over[id] = over
	b.mu.Unlock()
	return over, nil
}

// setProps validates and stores new overrides for a bucket, merged over the
// existing ones.
func (b *buckets) setProps(typ, bucket string, raw map[string]json.RawMessage) error {
	id := bucketID{typ, bucket}
	tp, err := b.typeProps(typ)
	if err != nil {
		return err
	}
	old, err := b.loadOverrides(id)
	if err != nil {
		return err
	}
	merged := make(map[string]json.RawMessage, len(old)+len(raw))
	for k, v := range old {
		merged[k] = v
	}
	for k, v := range raw {
		switch k {
		case "name", "active", "claimant":
			continue // read-only; never stored
		case "hll_precision":
			// May be lowered from the bucket's current value, never raised.
			cur, err := b.props(typ, bucket)
			if err != nil {
				return err
			}
			if _, msg := checkHLLPrecision(cur.Datatype, cur.HLLPrecision, v); msg != "" {
				return &PropsError{Reasons: map[string]string{k: msg}}
			}
		}
		merged[k] = v
	}
	p, err := ApplyJSON(tp, merged)
	if err != nil {
		return err
	}
	if err := b.validResolver(p); err != nil {
		return err
	}
	enc, err := json.Marshal(merged)
	if err != nil {
		return err
	}
	var batch storage.Batch
	batch.SetMeta(propsMetaKey(id), enc)
	if err := b.eng.Write(&batch, storage.WriteOptions{Sync: true}); err != nil {
		return err
	}
	b.mu.Lock()
	b.over[id] = merged
	b.eff[id] = p
	b.mu.Unlock()
	return nil
}

// resetProps removes a bucket's overrides.
func (b *buckets) resetProps(typ, bucket string) error {
	id := bucketID{typ, bucket}
	if _, err := b.typeProps(typ); err != nil {
		return err
	}
	var batch storage.Batch
	batch.DeleteMeta(propsMetaKey(id))
	if err := b.eng.Write(&batch, storage.WriteOptions{Sync: true}); err != nil {
		return err
	}
	b.mu.Lock()
	b.over[id] = nil
	delete(b.eff, id)
	b.mu.Unlock()
	return nil
}

// validResolver checks a resolver property against the known resolvers.
func (b *buckets) validResolver(p Props) error {
	if b.checkResolver == nil || b.checkResolver(p.Resolver) {
		if p.Resolver == "datatype" && p.Datatype == "" {
			return &PropsError{Reasons: map[string]string{"resolver": "datatype resolution needs a bucket type with a datatype"}}
		}
		if p.Datatype != "" && p.Resolver != "" && p.Resolver != "allow_mult" && p.Resolver != "datatype" && p.Resolver != "oplog" {
			return &PropsError{Reasons: map[string]string{"resolver": "a data-type bucket resolves siblings with its data type; value resolvers would drop updates"}}
		}
		if p.Resolver == "oplog" && p.Datatype != "oplog" {
			return &PropsError{Reasons: map[string]string{"resolver": "oplog resolution needs a bucket type with datatype oplog"}}
		}
		return nil
	}
	return &PropsError{Reasons: map[string]string{"resolver": "unknown resolver " + strconv.Quote(p.Resolver)}}
}
