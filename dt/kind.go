package dt

import (
	"fmt"
	"strings"
)

// Kind names a data type. Its numeric value is the type tag that leads the
// type's binary encoding (an ASCII letter, so a stored value is easy to spot
// in a hex dump). The tags are riakgo's own: riakgo's encodings are not
// Riak's term_to_binary blobs, and Riak's numeric tags (70..86) are never
// accepted.
type Kind uint8

// The data types. Counter, Set, Map, GSet and HLL are bucket data types;
// Counter, Set, Map, Register and Flag may be embedded in a map. OpLog and
// BCounter are riakgo's own (no Riak equivalent) and cannot be embedded.
const (
	KindCounter  Kind = 'C' // PN-counter (top level) / dotted counter (in a map)
	KindSet      Kind = 'S' // add-wins observed-remove set without tombstones (ORSWOT)
	KindMap      Kind = 'M' // observed-remove, reset-remove map
	KindRegister Kind = 'R' // last-writer-wins register
	KindFlag     Kind = 'F' // enable-wins flag
	KindGSet     Kind = 'G' // grow-only set
	KindHLL      Kind = 'H' // HyperLogLog cardinality sketch
	KindOpLog    Kind = 'O' // versioned op-log register (balance of uniquely identified operations)
	KindBCounter Kind = 'B' // bounded counter (non-negative, escrow rights per replica)
	KindPG       Kind = 'P' // process-group state (owner-written members with join counts)
)

var kindNames = [...]struct {
	k    Kind
	name string
}{
	{KindCounter, "counter"}, {KindSet, "set"}, {KindMap, "map"}, {KindRegister, "register"},
	{KindFlag, "flag"}, {KindGSet, "gset"}, {KindHLL, "hll"},
	{KindOpLog, "oplog"}, {KindBCounter, "bcounter"}, {KindPG, "pg"},
}

// String returns the type's Riak name: counter, set, map, register, flag,
// gset or hll; riakgo's own types are oplog, bcounter and pg.
func (k Kind) String() string {
	for _, n := range kindNames {
		if n.k == k {
			return n.name
		}
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	for _, n := range kindNames {
		if n.k == k {
			return true
		}
	}
	return false
}

// Embeddable reports whether k may be the type of a map field: counter,
// set, register, flag or map, as in Riak.
func (k Kind) Embeddable() bool {
	switch k {
	case KindCounter, KindSet, KindRegister, KindFlag, KindMap:
		return true
	}
	return false
}

// ParseKind returns the kind with Riak name s (see Kind.String).
func ParseKind(s string) (Kind, bool) {
	for _, n := range kindNames {
		if n.name == s {
			return n.k, true
		}
	}
	return 0, false
}

// Field names a map field. As in Riak a field is keyed by its name and its
// type together: "a" as a counter and "a" as a set are two fields.
type Field struct {
	Name string
	Type Kind
}

// String returns the field in Riak's JSON form, name_type (e.g. "likes_counter").
func (f Field) String() string { return f.Name + "_" + f.Type.String() }

// ParseField parses Riak's name_type form. The suffix must name a type that
// can be embedded in a map; the name may be empty or contain underscores.
func ParseField(s string) (Field, error) {
	i := strings.LastIndexByte(s, '_')
	if i < 0 {
		return Field{}, fmt.Errorf("%w: map field %q has no _type suffix", ErrInvalidOp, s)
	}
	k, ok := ParseKind(s[i+1:])
	if !ok || !k.Embeddable() {
		return Field{}, fmt.Errorf("%w: map field %q: %q cannot be embedded in a map", ErrInvalidOp, s, s[i+1:])
	}
	return Field{Name: s[:i], Type: k}, nil
}

// compareField orders fields by name, then type; maps encode and render
// their fields in this order.
func compareField(a, b Field) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	switch {
	case a.Type < b.Type:
		return -1
	case a.Type > b.Type:
		return 1
	}
	return 0
}
