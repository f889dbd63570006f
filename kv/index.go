package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
)

// Secondary-index entries live in each partition's index space, one entry
// per (field, term, object key), with an empty value:
//
//	uvarint(len type) type | uvarint(len bucket) bucket |
//	uvarint(len field) field | term | key
//
// The term is encoded so that byte order is term order: an _int term as 8
// big-endian bytes with the sign bit flipped, a _bin term with each 0x00
// escaped as 0x00 0xFF and ended by 0x00 0x01. A range query is then one
// key-range scan per partition, and results merge in (term, key) order by
// comparing the encoded suffixes.

// ErrBadIndex is wrapped by every invalid index query or index value.
var ErrBadIndex = errors.New("riakgo/kv: invalid index query")

// appendIndexPrefix appends the prefix of a field's entries in a bucket.
func appendIndexPrefix(dst []byte, typ, bucket, field string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(typ)))
	dst = append(dst, typ...)
	dst = binary.AppendUvarint(dst, uint64(len(bucket)))
	dst = append(dst, bucket...)
	dst = binary.AppendUvarint(dst, uint64(len(field)))
	return append(dst, field...)
}

// isIntField reports whether a field holds integer terms.
func isIntField(field string) bool { return strings.HasSuffix(field, "_int") }

// appendTerm appends the order-preserving encoding of term for field. An
// _int term must parse as a 64-bit integer.
func appendTerm(dst []byte, field, term string) ([]byte, error) {
	if isIntField(field) {
		n, err := strconv.ParseInt(strings.TrimSpace(term), 10, 64)
		if err != nil {
			return nil, UserErrorf(ErrBadIndex, "%q is not an integer term of %s", term, field)
		}
		return binary.BigEndian.AppendUint64(dst, uint64(n)^(1<<63)), nil
	}
	for i := 0; i < len(term); i++ {
		if term[i] == 0 {
			dst = append(dst, 0, 0xff)
		} else {
			dst = append(dst, term[i])
		}
	}
	return append(dst, 0, 1), nil
}

// decodeTerm splits an encoded suffix into its term (as text) and the
// object key.
func decodeTerm(field string, suffix []byte) (term, key string, err error) {
	if isIntField(field) {
		if len(suffix) < 8 {
			return "", "", UserErrorf(ErrBadIndex, "short integer term")
		}
		n := int64(binary.BigEndian.Uint64(suffix) ^ (1 << 63))
		return strconv.FormatInt(n, 10), string(suffix[8:]), nil
	}
	var b []byte
	for i := 0; i < len(suffix); i++ {
		if suffix[i] != 0 {
			b = append(b, suffix[i])
			continue
		}
		if i+1 >= len(suffix) {
			return "", "", UserErrorf(ErrBadIndex, "truncated term")
		}
		switch suffix[i+1] {
		case 0xff:
			b = append(b, 0)
			i++
		case 1:
			return string(b), string(suffix[i+2:]), nil
		default:
			return "", "", UserErrorf(ErrBadIndex, "bad term escape")
		}
	}
	return "", "", UserErrorf(ErrBadIndex, "unterminated term")
}

// indexKeys returns the index-space keys of every live sibling's index
// entries, deduplicated.
func indexKeys(k Key, o *siblings.Object) map[string]struct{} {
	if o == nil {
		return nil
	}
	var out map[string]struct{}
	for i := range o.Siblings {
		s := &o.Siblings[i]
		if s.Meta.Deleted {
			continue
		}
		for _, e := range s.Meta.Indexes {
			b := appendIndexPrefix(nil, k.Type, k.Bucket, e.Field)
			b, err := appendTerm(b, e.Field, e.Value)
			if err != nil {
				continue // validated on the way in; skip anything else
			}
			b = append(b, k.Key...)
			if out == nil {
				out = make(map[string]struct{})
			}
			out[string(b)] = struct{}{}
		}
	}
	return out
}

// addIndexChanges appends to b the index-space changes that turn old's
// entries into new's.
func addIndexChanges(b *storage.Batch, p storage.Partition, k Key, old, new *siblings.Object) {
	if !hasIndexes(old) && !hasIndexes(new) {
		return
	}
	before, after := indexKeys(k, old), indexKeys(k, new)
	for key := range before {
		if _, ok := after[key]; !ok {
			b.DeleteIndex(p, []byte(key))
		}
	}
	for key := range after {
		if _, ok := before[key]; !ok {
			b.SetIndex(p, []byte(key), nil)
		}
	}
}

func hasIndexes(o *siblings.Object) bool {
	if o == nil {
		return false
	}
	for i := range o.Siblings {
		if len(o.Siblings[i].Meta.Indexes) > 0 {
			return true
		}
	}
	return false
}

// prefixEnd returns the smallest byte string greater than every string
// with prefix p (nil if there is none).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
