package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/kv/storage"
)

// Bucket types follow riak-admin's lifecycle: created (and, once every node
// has the definition, ready to activate) → active. An inactive type behaves
// as if it did not exist for client requests. On a single node a created
// type is ready at once.

// TypeStatus is a bucket type's lifecycle state.
type TypeStatus string

// Bucket type states.
const (
	TypeUndefined TypeStatus = "undefined"
	TypeCreated   TypeStatus = "created" // created; not yet seen by every node
	TypeReady     TypeStatus = "ready"   // created and may be activated
	TypeActive    TypeStatus = "active"
)

// Type errors. Each is wrapped with the type's name.
var (
	// ErrTypeExists: create of a type that is already active.
	ErrTypeExists = errors.New("riakgo/kv: bucket type already active")
	// ErrTypeNotActive: update of a type that is not active.
	ErrTypeNotActive = errors.New("riakgo/kv: bucket type is not active")
	// ErrTypeName: a reserved or empty type name.
	ErrTypeName = errors.New("riakgo/kv: invalid bucket type name")
)

// typeRecord is a type's persisted definition.
type typeRecord struct {
	Active bool                       `json:"active"`
	Props  map[string]json.RawMessage `json:"props"`
}

// TypeInfo describes a bucket type.
type TypeInfo struct {
	Name   string
	Status TypeStatus
	Props  Props
}

var supportedDatatypes = map[string]bool{"counter": true, "set": true, "map": true, "hll": true, "gset": true,
	"oplog": true, "bcounter": true, "pg": true}

const typesIndexKey = "btypes"

func typeMetaKey(name string) []byte { return []byte("btype\x00" + name) }

// loadTypes reads every persisted type definition.
func (b *buckets) loadTypes() error {
	raw, err := b.eng.GetMeta([]byte(typesIndexKey))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return fmt.Errorf("riakgo/kv: bucket type index: %w", err)
	}
	for _, name := range names {
		raw, err := b.eng.GetMeta(typeMetaKey(name))
		if err != nil {
			return fmt.Errorf("riakgo/kv: bucket type %s: %w", name, err)
		}
		var rec typeRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("riakgo/kv: bucket type %s: %w", name, err)
		}
		p, err := createProps(rec.Props)
		if err != nil {
			return fmt.Errorf("riakgo/kv: bucket type %s: %w", name, err)
		}
		b.defined[name] = &rec
		if rec.Active {
			b.types[name] = p
		}
	}
	return nil
}

// createProps validates a type's creation properties over the typed
// defaults, including the create-only ones (datatype, write_once).
func createProps(raw map[string]json.RawMessage) (Props, error) {
	base := DefaultTypedProps()
	reasons := map[string]string{}
	rest := map[string]json.RawMessage{}
	for k, v := range raw {
		switch k {
		case "datatype":
			var dt string
			if json.Unmarshal(v, &dt) != nil || !supportedDatatypes[dt] {
				reasons[k] = fmt.Sprintf("%s not supported for bucket datatype property", strings.Trim(string(v), `"`))
				continue
			}
			base.Datatype = dt
		case "write_once":
			wo, ok := coerceBool(v)
			if !ok {
				reasons[k] = "not_boolean"
				continue
			}
			base.WriteOnce = wo
		default:
			rest[k] = v
		}
	}
	p, err := ApplyJSON(base, rest)
	var pe *PropsError
	if errors.As(err, &pe) {
		for k, v := range pe.Reasons {
			reasons[k] = v
		}
	} else if err != nil {
		return Props{}, err
	}
	if p.WriteOnce && p.Datatype != "" {
		reasons["write_once"] = "Write once buckets must not have datatype defined"
	}
	if p.Datatype == "hll" && p.HLLPrecision == 0 {
		p.HLLPrecision = defaultHLLPrecision // riak_kv_bucket's default
	}
	if len(reasons) > 0 {
		return Props{}, &PropsError{Reasons: reasons}
	}
	if p.WriteOnce {
		// write_once data is immutable: riakgo stores it last-write-wins
		// without siblings (see docs/differences.md).
		p.LastWriteWins, p.DVVEnabled, p.AllowMult = true, false, false
	}
	return p, nil
}

func validTypeName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrTypeName)
	case name == DefaultType:
		return fmt.Errorf("%w: default_type", ErrTypeName)
	case name == "any":
		return fmt.Errorf("%w: The name 'any' may not be used for bucket types", ErrTypeName)
	case strings.ContainsAny(name, "/"):
		return fmt.Errorf("%w: %q contains '/'", ErrTypeName, name)
	}
	return nil
}

func (b *buckets) saveType(name string, rec *typeRecord) error {
	enc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(b.defined)+1)
	for n := range b.defined {
		names = append(names, n)
	}
	if _, ok := b.defined[name]; !ok {
		names = append(names, name)
	}
	sort.Strings(names)
	idx, _ := json.Marshal(names)
	var batch storage.Batch
	batch.SetMeta(typeMetaKey(name), enc)
	batch.SetMeta([]byte(typesIndexKey), idx)
	return b.eng.Write(&batch, storage.WriteOptions{Sync: true})
}

// createType defines (or redefines, until activated) a bucket type.
func (b *buckets) createType(name string, raw map[string]json.RawMessage) error {
	if err := validTypeName(name); err != nil {
		return err
	}
	p, err := createProps(raw)
	if err != nil {
		return err
	}
	if err := b.validResolver(p); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if rec, ok := b.defined[name]; ok && rec.Active {
		return fmt.Errorf("%w: %s", ErrTypeExists, name)
	}
	rec := &typeRecord{Props: raw}
	if rec.Props == nil {
		rec.Props = map[string]json.RawMessage{}
	}
	if err := b.saveType(name, rec); err != nil {
		return err
	}
	b.defined[name] = rec
	return nil
}

// activateType makes a created type usable.
func (b *buckets) activateType(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.defined[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownType, name)
	}
	if rec.Active {
		return nil
	}
	p, err := createProps(rec.Props)
	if err != nil {
		return err
	}
	next := &typeRecord{Active: true, Props: rec.Props}
	if err := b.saveType(name, next); err != nil {
		return err
	}
	b.defined[name] = next
	b.types[name] = p
	b.invalidateTypeLocked(name)
	return nil
}

// updateType changes an active type's properties; datatype and
// write_once may not change.
func (b *buckets) updateType(name string, raw map[string]json.RawMessage) error {
	if name == DefaultType {
		return &PropsError{Reasons: map[string]string{"default": "no_default_update"}}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.defined[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownType, name)
	}
	if !rec.Active {
		return fmt.Errorf("%w: %s", ErrTypeNotActive, name)
	}
	cur := b.types[name]
	reasons := map[string]string{}
	merged := map[string]json.RawMessage{}
	for k, v := range rec.Props {
		merged[k] = v
	}
	for k, v := range raw {
		switch k {
		case "name", "active", "claimant":
			continue
		case "datatype":
			var dt string
			_ = json.Unmarshal(v, &dt)
			if dt != cur.Datatype {
				reasons[k] = "Cannot update datatype on existing bucket"
			}
			continue
		case "write_once":
			if wo, ok := coerceBool(v); !ok || wo != cur.WriteOnce {
				reasons[k] = "Cannot modify write_once property once set to true"
			}
			continue
		case "hll_precision":
			// Creation rules accept any 4..16; an update may not raise it.
			n, msg := checkHLLPrecision(cur.Datatype, cur.HLLPrecision, v)
			if msg != "" {
				reasons[k] = msg
				continue
			}
			if n != 0 {
				v = json.RawMessage(strconv.Itoa(n))
			}
		}
		merged[k] = v
	}
	if len(reasons) > 0 {
		return &PropsError{Reasons: reasons}
	}
	p, err := createProps(merged)
	if err != nil {
		return err
	}
	if err := b.validResolver(p); err != nil {
		return err
	}
	next := &typeRecord{Active: true, Props: merged}
	if err := b.saveType(name, next); err != nil {
		return err
	}
	b.defined[name] = next
	b.types[name] = p
	b.invalidateTypeLocked(name)
	return nil
}

// invalidateTypeLocked drops the cached effective props of a type's buckets.
func (b *buckets) invalidateTypeLocked(name string) {
	for id := range b.eff {
		if id.typ == name {
			delete(b.eff, id)
		}
	}
}

// typeInfo returns a type's status and properties.
func (b *buckets) typeInfo(name string) TypeInfo {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if name == DefaultType {
		return TypeInfo{Name: name, Status: TypeActive, Props: b.types[DefaultType]}
	}
	rec, ok := b.defined[name]
	if !ok {
		return TypeInfo{Name: name, Status: TypeUndefined}
	}
	p, _ := createProps(rec.Props)
	st := TypeReady
	if rec.Active {
		st = TypeActive
	}
	return TypeInfo{Name: name, Status: st, Props: p}
}

// listTypes returns every type, default first, then by name.
func (b *buckets) listTypes() []TypeInfo {
	b.mu.RLock()
	names := make([]string, 0, len(b.defined))
	for n := range b.defined {
		names = append(names, n)
	}
	b.mu.RUnlock()
	sort.Strings(names)
	out := []TypeInfo{b.typeInfo(DefaultType)}
	for _, n := range names {
		out = append(out, b.typeInfo(n))
	}
	return out
}
