package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
)

// DefaultType is the name of the built-in bucket type that the untyped
// /buckets and /riak routes use.
const DefaultType = "default"

// Bucket types and bucket properties are cluster metadata: they live in
// the node's replica of it (Config.Metadata) and nowhere else, so every
// node applies the same settings. The buckets type caches what it derived
// from them (parsed types, effective props) and drops a cache entry when
// the metadata store reports a change, made here or on another node.

// Metadata prefixes of bucket settings.
const (
	metaTypes = "bucket_types" // key: type name; value: JSON typeRecord
	metaProps = "bucket_props" // key: type "\x00" bucket; value: JSON overrides
)

// Metadata is the cluster metadata store kv keeps its settings in
// (*metadata.Store in a node). Methods are safe for concurrent use.
type Metadata interface {
	// Get returns the resolved value of (prefix, key).
	Get(prefix, key string) ([]byte, bool)
	// List returns the live entries of a prefix, sorted by key.
	List(prefix string) []metadata.KeyValue
	// Put and Delete change an entry cluster-wide; they return once every
	// member that is up has the change (metadata.ErrUnconfirmed if some
	// did not confirm it; the change is kept and spreads later).
	Put(ctx context.Context, prefix, key string, value []byte) error
	Delete(ctx context.Context, prefix, key string) error
	// Confirm splits the members into those that hold this node's state
	// of an entry and those that do not.
	Confirm(ctx context.Context, prefix, key string) (have, lack []ring.NodeID, err error)
	// Subscribe registers a callback run after every change of an entry.
	Subscribe(fn func(prefix, key string))
	// SetMerger makes m combine concurrent changes of a prefix's entries.
	SetMerger(prefix string, m metadata.Merger)
}

// bucketID names a bucket within a type.
type bucketID struct{ typ, bucket string }

func propsKey(id bucketID) string { return id.typ + "\x00" + id.bucket }

// buckets derives bucket types and effective bucket properties from the
// metadata store.
type buckets struct {
	md       Metadata
	defaults Props
	mu       sync.RWMutex
	gen      uint64                  // bumped by every invalidation
	defined  map[string]*typeRecord  // every created type, active or not
	types    map[string]Props        // active types, default included
	eff      map[bucketID]Props      // effective props of each bucket, on demand
	nvals    map[string]map[int]bool // per type: the n_vals bucket overrides set
	// checkResolver reports whether a resolver name is known.
	checkResolver func(string) bool
	// ringSize returns the number of partitions (nil: no check).
	ringSize func() int
}

func newBuckets(md Metadata, defaults Props) *buckets {
	b := &buckets{md: md, defaults: defaults}
	md.SetMerger(metaProps, b.mergeBucketProps) // concurrent props changes merge as Riak's do
	b.reload()
	md.Subscribe(b.changed)
	return b
}

// reload rebuilds every derived table from the store.
func (b *buckets) reload() {
	defined := map[string]*typeRecord{}
	types := map[string]Props{DefaultType: b.defaults}
	for _, kv := range b.md.List(metaTypes) {
		var rec typeRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			continue // not ours to repair; ignored as if undefined
		}
		p, err := createProps(rec.Props)
		if err != nil {
			continue
		}
		defined[kv.Key] = &rec
		if rec.Active {
			types[kv.Key] = p
		}
	}
	nvals := map[string]map[int]bool{}
	for _, kv := range b.md.List(metaProps) {
		typ, _, _ := strings.Cut(kv.Key, "\x00")
		var over struct {
			NVal *int `json:"n_val"`
		}
		if json.Unmarshal(kv.Value, &over) == nil && over.NVal != nil {
			if nvals[typ] == nil {
				nvals[typ] = map[int]bool{}
			}
			nvals[typ][*over.NVal] = true
		}
	}
	b.mu.Lock()
	b.defined, b.types, b.nvals = defined, types, nvals
	b.eff = map[bucketID]Props{}
	b.gen++
	b.mu.Unlock()
}

// changed is the store's callback.
func (b *buckets) changed(prefix, key string) {
	switch prefix {
	case metaTypes:
		b.reload()
	case metaProps:
		typ, bucket, _ := strings.Cut(key, "\x00")
		var over struct {
			NVal *int `json:"n_val"`
		}
		raw, ok := b.md.Get(metaProps, key)
		b.mu.Lock()
		delete(b.eff, bucketID{typ, bucket})
		if ok && json.Unmarshal(raw, &over) == nil && over.NVal != nil {
			if b.nvals[typ] == nil {
				b.nvals[typ] = map[int]bool{}
			}
			b.nvals[typ][*over.NVal] = true
		}
		b.gen++
		b.mu.Unlock()
	}
}

// typeProps returns the properties of an active type.
func (b *buckets) typeProps(typ string) (Props, error) {
	b.mu.RLock()
	p, ok := b.types[typ]
	b.mu.RUnlock()
	if !ok {
		return Props{}, UserErrorf(ErrUnknownType, "%s", typ)
	}
	return p, nil
}

// minNVal returns the smallest n_val a bucket of an active type may have:
// the type's, or a smaller one a bucket's properties set (a coverage plan
// over every bucket of the type must use it).
func (b *buckets) minNVal(typ string) (int, error) {
	tp, err := b.typeProps(typ)
	if err != nil {
		return 0, err
	}
	n := tp.NVal
	b.mu.RLock()
	for v := range b.nvals[typ] {
		if v >= 1 && v < n {
			n = v
		}
	}
	b.mu.RUnlock()
	return n, nil
}

// overrides returns a bucket's property overrides (nil: none).
func (b *buckets) overrides(id bucketID) (map[string]json.RawMessage, error) {
	raw, ok := b.md.Get(metaProps, propsKey(id))
	if !ok {
		return nil, nil
	}
	var over map[string]json.RawMessage
	if err := json.Unmarshal(raw, &over); err != nil {
		return nil, fmt.Errorf("riakgo/kv: stored props of %s/%s: %w", id.typ, id.bucket, err)
	}
	return over, nil
}

// props returns the effective properties of bucket (typ, bucket).
func (b *buckets) props(typ, bucket string) (Props, error) {
	id := bucketID{typ, bucket}
	b.mu.RLock()
	p, ok := b.eff[id]
	gen := b.gen
	b.mu.RUnlock()
	if ok {
		return p, nil
	}
	tp, err := b.typeProps(typ)
	if err != nil {
		return Props{}, err
	}
	over, err := b.overrides(id)
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
	if b.gen == gen { // nothing changed while we read: the value is current
		if len(b.eff) > 100000 { // bound the cache; it refills on demand
			b.eff = map[bucketID]Props{}
		}
		b.eff[id] = p
	}
	b.mu.Unlock()
	return p, nil
}

// setProps validates and stores new overrides for a bucket, merged over the
// existing ones.
func (b *buckets) setProps(typ, bucket string, raw map[string]json.RawMessage) error {
	id := bucketID{typ, bucket}
	tp, err := b.typeProps(typ)
	if err != nil {
		return err
	}
	old, err := b.overrides(id)
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
	return b.md.Put(context.Background(), metaProps, propsKey(id), enc)
}

// resetProps removes a bucket's overrides.
func (b *buckets) resetProps(typ, bucket string) error {
	if _, err := b.typeProps(typ); err != nil {
		return err
	}
	return b.md.Delete(context.Background(), metaProps, propsKey(bucketID{typ, bucket}))
}

// validResolver checks a resolver property against the known resolvers.
func (b *buckets) validResolver(p Props) error {
	if b.ringSize != nil && p.NVal > b.ringSize() {
		// More replicas than partitions: no preference list can hold
		// them, and every request would answer 503 (issue 12).
		return &PropsError{Reasons: map[string]string{"n_val": fmt.Sprintf("n_val %d is more than the ring's %d partitions", p.NVal, b.ringSize())}}
	}
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

// Legacy layout (before cluster metadata): node metadata keys "btypes"
// (the JSON list of type names), "btype\x00NAME" and "bprops\x00T\x00B".

// migrateLegacy moves settings a node stored before cluster metadata
// existed into md (as this node's writes), then deletes the old keys.
func migrateLegacy(eng storage.Engine, md Metadata) error {
	type legacy struct{ prefix, key, meta string }
	var moved []legacy
	var vals [][]byte
	for _, scan := range []struct{ prefix, store string }{{"btype\x00", metaTypes}, {"bprops\x00", metaProps}} {
		err := eng.ScanMeta([]byte(scan.prefix), func(k, v []byte) error {
			moved = append(moved, legacy{scan.store, string(k[len(scan.prefix):]), string(k)})
			vals = append(vals, append([]byte(nil), v...))
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(moved) == 0 {
		return nil
	}
	for i, m := range moved {
		if _, ok := md.Get(m.prefix, m.key); ok {
			continue // the store already has a value: it wins
		}
		if err := md.Put(context.Background(), m.prefix, m.key, vals[i]); err != nil && !errors.Is(err, metadata.ErrUnconfirmed) {
			return err
		}
	}
	var batch storage.Batch
	for _, m := range moved {
		batch.DeleteMeta([]byte(m.meta))
	}
	batch.DeleteMeta([]byte("btypes"))
	return eng.Write(&batch, storage.WriteOptions{Sync: true})
}
