package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/ring"
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
	// Have and Lack, filled by TypeStatus, are the members that hold the
	// type's current definition and those that do not (yet).
	Have, Lack []ring.NodeID
}

var supportedDatatypes = map[string]bool{"counter": true, "set": true, "map": true, "hll": true, "gset": true,
	"oplog": true, "bcounter": true, "pg": true}

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
		return UserErrorf(ErrTypeName, "the name is empty")
	case name == DefaultType:
		return UserErrorf(ErrTypeName, "default_type")
	case name == "any":
		return UserErrorf(ErrTypeName, "The name 'any' may not be used for bucket types")
	case strings.ContainsAny(name, "/"):
		return UserErrorf(ErrTypeName, "%q contains '/'", name)
	}
	return nil
}

func (b *buckets) saveType(name string, rec *typeRecord) error {
	enc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.md.Put(context.Background(), metaTypes, name, enc)
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
	b.mu.RLock()
	rec, ok := b.defined[name]
	b.mu.RUnlock()
	if ok && rec.Active {
		return UserErrorf(ErrTypeExists, "%s", name)
	}
	rec = &typeRecord{Props: raw}
	if rec.Props == nil {
		rec.Props = map[string]json.RawMessage{}
	}
	return b.saveType(name, rec)
}

// activateType makes a created type usable. Every member of the cluster
// must hold the created type first, a member that is down counting as
// lacking it (riak-admin refuses to activate a type that is not ready);
// activation then returns once each member that is up holds the
// activation.
func (b *buckets) activateType(name string) error {
	b.mu.RLock()
	rec, ok := b.defined[name]
	b.mu.RUnlock()
	if !ok {
		return UserErrorf(ErrUnknownType, "%s", name)
	}
	if rec.Active {
		return nil
	}
	if _, err := createProps(rec.Props); err != nil {
		return err
	}
	if _, lack, err := b.md.Confirm(context.Background(), metaTypes, name); err != nil {
		return err
	} else if len(lack) > 0 {
		return &NotReadyError{Type: name, Missing: lack}
	}
	return b.saveType(name, &typeRecord{Active: true, Props: rec.Props})
}

// updateType changes an active type's properties; datatype and
// write_once may not change.
func (b *buckets) updateType(name string, raw map[string]json.RawMessage) error {
	if name == DefaultType {
		return &PropsError{Reasons: map[string]string{"default": "no_default_update"}}
	}
	b.mu.RLock()
	rec, ok := b.defined[name]
	cur := b.types[name]
	b.mu.RUnlock()
	if !ok {
		return UserErrorf(ErrUnknownType, "%s", name)
	}
	if !rec.Active {
		return UserErrorf(ErrTypeNotActive, "%s", name)
	}
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
	return b.saveType(name, &typeRecord{Active: true, Props: merged})
}

// NotReadyError: activation of a type that some members do not hold yet,
// or that are down and may not (riak-admin: not ready).
type NotReadyError struct {
	Type    string
	Missing []ring.NodeID
}

func (e *NotReadyError) Error() string {
	names := make([]string, len(e.Missing))
	for i, n := range e.Missing {
		names[i] = string(n)
	}
	return fmt.Sprintf("riakgo/kv: bucket type %s is not ready: %s do not have it yet", e.Type, strings.Join(names, ", "))
}

// typeStatus is typeInfo with the members that hold the type's current
// definition (Have) and those that do not (Lack); a created type all
// members hold is ready to activate.
func (b *buckets) typeStatus(name string) TypeInfo {
	t := b.typeInfo(name)
	if t.Status == TypeUndefined || name == DefaultType {
		return t
	}
	have, lack, err := b.md.Confirm(context.Background(), metaTypes, name)
	if err != nil {
		return t
	}
	t.Have, t.Lack = have, lack
	if t.Status == TypeReady && len(lack) > 0 {
		t.Status = TypeCreated
	}
	return t
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
