package kv

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Concurrent changes of one bucket's properties (made on both sides of a
// partition) are merged property by property when read, as riak_core
// merges bucket properties. Riak stores a bucket's whole property list, so
// its merge sees every property on both sides; riakgo stores overrides, so
// a side that did not set a property counts with the type's value for it.
// Each property takes the safer of the values: allow_mult
// and notfound_ok if either side turned them on, basic_quorum and
// last_write_wins only if both did, the larger n_val, vclock pruning
// thresholds and quorums (Riak's term order: any number below any named
// quorum, names in alphabetical order), the union of hooks, and the
// stronger sync_on_write. The merge is commutative and associative, so
// every node reads the same properties whatever order it learnt the
// changes in (metadata.Merger).

// mergeBucketProps is the metadata merger of the bucket_props entries
// (key: type "\x00" bucket; values: JSON objects of property overrides).
func (b *buckets) mergeBucketProps(key string, values [][]byte) []byte {
	typ, _, _ := strings.Cut(key, "\x00")
	base := map[string]json.RawMessage{}
	if tp, err := b.typeProps(typ); err == nil {
		for k, v := range tp.JSON("") {
			if raw, err := json.Marshal(v); err == nil {
				base[k] = raw
			}
		}
	}
	return mergeProps(base, values)
}

// mergeProps merges property overrides (JSON objects); base holds the
// value a side that did not set a property has for it (the type's).
func mergeProps(base map[string]json.RawMessage, values [][]byte) []byte {
	var sides []map[string]json.RawMessage
	names := map[string]bool{}
	for _, v := range values {
		var over map[string]json.RawMessage
		if json.Unmarshal(v, &over) != nil {
			continue
		}
		sides = append(sides, over)
		for k := range over {
			names[k] = true
		}
	}
	if len(sides) == 0 { // nothing readable: any deterministic choice
		return slices.MaxFunc(values, bytes.Compare)
	}
	merged := map[string]json.RawMessage{}
	for k := range names {
		var acc json.RawMessage
		for _, over := range sides {
			x, ok := over[k]
			if !ok {
				if x, ok = base[k]; !ok {
					continue // a property the type does not know: the sides that set it
				}
			}
			if acc == nil {
				acc = x
			} else {
				acc = mergeProp(k, acc, x)
			}
		}
		merged[k] = acc
	}
	out, err := json.Marshal(merged) // keys sorted: the same bytes everywhere
	if err != nil {
		return slices.MaxFunc(values, bytes.Compare)
	}
	return out
}

// mergeProp merges two values of property name.
func mergeProp(name string, a, b json.RawMessage) json.RawMessage {
	switch name {
	case "allow_mult", "notfound_ok":
		return boolMerge(a, b, true)
	case "basic_quorum", "last_write_wins":
		return boolMerge(a, b, false)
	case "precommit", "postcommit":
		return hooksUnion(a, b)
	case "sync_on_write":
		rank := func(v json.RawMessage) int {
			switch string(bytes.TrimSpace(v)) {
			case `"all"`:
				return 2
			case `"one"`:
				return 1
			}
			return 0
		}
		if ra, rb := rank(a), rank(b); ra != rb {
			if ra > rb {
				return a
			}
			return b
		}
	}
	// n_val, the vclock thresholds, the quorums and anything else: the
	// greater in Riak's term order.
	if termCompare(a, b) >= 0 {
		return a
	}
	return b
}

// boolMerge is a || b (or a && b): when the values are not both booleans,
// the greater in term order.
func boolMerge(a, b json.RawMessage, or bool) json.RawMessage {
	var x, y bool
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		if termCompare(a, b) >= 0 {
			return a
		}
		return b
	}
	if or && (x || y) || !or && x && y {
		return json.RawMessage("true")
	}
	return json.RawMessage("false")
}

// hooksUnion is the sorted union of two lists of hooks.
func hooksUnion(a, b json.RawMessage) json.RawMessage {
	var x, y []json.RawMessage
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		if termCompare(a, b) >= 0 {
			return a
		}
		return b
	}
	var all [][]byte
	for _, h := range append(x, y...) {
		var c bytes.Buffer
		if json.Compact(&c, h) == nil {
			all = append(all, c.Bytes())
		}
	}
	slices.SortFunc(all, bytes.Compare)
	all = slices.CompactFunc(all, bytes.Equal)
	out := []byte{'['}
	for i, h := range all {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, h...)
	}
	return append(out, ']')
}

// termCompare orders two JSON property values as Erlang orders the terms
// Riak stores them as: numbers below names (strings), numbers by value,
// names alphabetically, booleans (atoms too) as their names; anything
// else by its bytes, after all of these.
func termCompare(a, b json.RawMessage) int {
	ka, va := termKey(a)
	kb, vb := termKey(b)
	if ka != kb {
		return ka - kb
	}
	switch ka {
	case 0:
		x, y := va.(float64), vb.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case 1:
		return compareStrings(va.(string), vb.(string))
	}
	return bytes.Compare(a, b)
}

// termKey returns the kind of a JSON value (0 number, 1 name, 2 other)
// and its value.
func termKey(v json.RawMessage) (int, any) {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return 2, nil
	}
	switch t := x.(type) {
	case float64:
		return 0, t
	case string:
		return 1, t
	case bool:
		if t {
			return 1, "true"
		}
		return 1, "false"
	}
	return 2, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
