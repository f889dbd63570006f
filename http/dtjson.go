package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/riakgo/riakgo/dt"
)

// Parsing Riak's JSON data-type operations (reference §11.2) into dt ops.
// Object members are read in the order sent, because Riak applies a set's
// add/remove/add_all/remove_all in that order; a map's removes go before its
// updates, as riak_kv_crdt_json orders them.

// errOp marks an operation that does not fit the data type; the handler
// answers 400 `Invalid operation on datatype '<t>': <json>`.
var errOp = errors.New("invalid operation")

// errField marks a bad map field name: 400 `Invalid map field name '<f>'`.
type errField struct{ name string }

func (e *errField) Error() string { return "Invalid map field name '" + e.name + "'" }

// member is one "key": value pair of a JSON object, in order.
type member struct {
	key string
	val json.RawMessage
}

// members reads a JSON object's members in order; ok is false if raw is
// not an object.
func members(raw json.RawMessage) ([]member, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, false, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, false, nil
	}
	var out []member
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, true, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, true, err
		}
		out = append(out, member{key: kt.(string), val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, true, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, true, fmt.Errorf("trailing data after the JSON object")
	}
	return out, true, nil
}

// splitContext removes a top-level "context" member from an operation
// body and returns the rest and the context's text.
func splitContext(body []byte) (json.RawMessage, string, error) {
	ms, isObj, err := members(body)
	if err != nil {
		return nil, "", err
	}
	if !isObj {
		return body, "", nil
	}
	var ctx string
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, m := range ms {
		if m.key == "context" {
			if err := json.Unmarshal(m.val, &ctx); err != nil {
				return nil, "", fmt.Errorf("context must be a string")
			}
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
		n++
	}
	b.WriteByte('}')
	return b.Bytes(), ctx, nil
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func jsonStrings(raw json.RawMessage) ([]string, bool) {
	var l []string
	if json.Unmarshal(raw, &l) != nil {
		return nil, false
	}
	return l, true
}

func jsonInt(raw json.RawMessage) (int64, bool) {
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&n) != nil {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// parseOp parses an operation on a value of kind k. now is the register
// timestamp (microseconds) for assignments.
func parseOp(k dt.Kind, raw json.RawMessage, now int64, depth int) (dt.Op, error) {
	if depth > dt.MaxDepth {
		return nil, fmt.Errorf("%w: maps nested deeper than %d", errOp, dt.MaxDepth)
	}
	raw = bytes.TrimSpace(raw)
	switch k {
	case dt.KindCounter, dt.KindBCounter:
		c, err := parseCounterOp(raw)
		switch {
		case err != nil:
			return nil, err
		case k == dt.KindBCounter:
			return dt.BCounterOp{Delta: c.Delta}, nil
		}
		return c, nil
	case dt.KindOpLog:
		return parseOpLogOp(raw)
	case dt.KindSet, dt.KindGSet, dt.KindHLL:
		return parseSetOp(k, raw)
	case dt.KindRegister:
		return parseRegisterOp(raw, now)
	case dt.KindFlag:
		return parseFlagOp(raw)
	case dt.KindMap:
		return parseMapOp(raw, now, depth)
	}
	return nil, errOp
}

// parseCounterOp: N, "increment", "decrement", {"increment":N} or
// {"decrement":N}.
func parseCounterOp(raw json.RawMessage) (dt.CounterOp, error) {
	if n, ok := jsonInt(raw); ok {
		return dt.CounterOp{Delta: n}, nil
	}
	if s, ok := jsonString(raw); ok {
		switch s {
		case "increment":
			return dt.CounterOp{Delta: 1}, nil
		case "decrement":
			return dt.CounterOp{Delta: -1}, nil
		}
		return dt.CounterOp{}, errOp
	}
	ms, isObj, err := members(raw)
	if err != nil || !isObj || len(ms) != 1 {
		return dt.CounterOp{}, errOp
	}
	n, ok := jsonInt(ms[0].val)
	if !ok {
		return dt.CounterOp{}, errOp
	}
	switch ms[0].key {
	case "increment":
		return dt.CounterOp{Delta: n}, nil
	case "decrement":
		return dt.CounterOp{Delta: -n}, nil
	}
	return dt.CounterOp{}, errOp
}

// parseOpLogOp: a bare integer (negative withdraws), or {"deposit":N} /
// {"withdraw":N} with an optional "note".
func parseOpLogOp(raw json.RawMessage) (dt.Op, error) {
	if n, ok := jsonInt(raw); ok {
		return dt.OpLogOp{Amount: n}, nil
	}
	ms, isObj, err := members(raw)
	if err != nil || !isObj || len(ms) == 0 {
		return nil, errOp
	}
	var op dt.OpLogOp
	amounts := 0
	for _, m := range ms {
		switch m.key {
		case "deposit", "withdraw":
			n, ok := jsonInt(m.val)
			if !ok || n < 0 {
				return nil, errOp
			}
			if m.key == "withdraw" {
				n = -n
			}
			op.Amount = n
			amounts++
		case "note":
			s, ok := jsonString(m.val)
			if !ok {
				return nil, errOp
			}
			op.Note = s
		default:
			return nil, errOp
		}
	}
	if amounts != 1 {
		return nil, errOp
	}
	return op, nil
}

// parseSetOp: {"add":x, "remove":x, "add_all":[…], "remove_all":[…]} for a
// set; gsets and hlls take only the adds.
func parseSetOp(k dt.Kind, raw json.RawMessage) (dt.Op, error) {
	ms, isObj, err := members(raw)
	if err != nil || !isObj || len(ms) == 0 {
		return nil, errOp
	}
	var set dt.SetOp
	var adds []string
	for _, m := range ms {
		var elems []string
		switch m.key {
		case "add", "remove":
			s, ok := jsonString(m.val)
			if !ok {
				return nil, errOp
			}
			elems = []string{s}
		case "add_all", "remove_all":
			l, ok := jsonStrings(m.val)
			if !ok {
				return nil, errOp
			}
			elems = l
		default:
			return nil, errOp
		}
		remove := strings.HasPrefix(m.key, "remove")
		if remove && k != dt.KindSet {
			return nil, errOp // gsets and hlls only grow
		}
		if remove {
			set = set.Remove(elems...)
		} else {
			set = set.Add(elems...)
			adds = append(adds, elems...)
		}
	}
	switch k {
	case dt.KindGSet:
		return dt.GSetOp{Elements: adds}, nil
	case dt.KindHLL:
		return dt.HLLOp{Elements: adds}, nil
	}
	return set, nil
}

// parseRegisterOp: "v" or {"assign":"v"}, at timestamp now.
func parseRegisterOp(raw json.RawMessage, now int64) (dt.Op, error) {
	if s, ok := jsonString(raw); ok {
		return dt.RegisterOp{Value: s, Timestamp: now}, nil
	}
	ms, isObj, err := members(raw)
	if err != nil || !isObj || len(ms) != 1 || ms[0].key != "assign" {
		return nil, errOp
	}
	s, ok := jsonString(ms[0].val)
	if !ok {
		return nil, errOp
	}
	return dt.RegisterOp{Value: s, Timestamp: now}, nil
}

// parseFlagOp: "enable" or "disable".
func parseFlagOp(raw json.RawMessage) (dt.Op, error) {
	s, ok := jsonString(raw)
	if !ok {
		return nil, errOp
	}
	switch s {
	case "enable":
		return dt.FlagOp{Enable: true}, nil
	case "disable":
		return dt.FlagOp{Enable: false}, nil
	}
	return nil, errOp
}

// parseMapOp: {"remove": name or [names], "update": {name_type: op, …}}.
// Riak applies a map update's removes first, then its field updates
// (riak_kv_crdt_json), whatever the order of the members.
func parseMapOp(raw json.RawMessage, now int64, depth int) (dt.Op, error) {
	ms, isObj, err := members(raw)
	if err != nil || !isObj || len(ms) == 0 {
		return nil, errOp
	}
	var op, updates dt.MapOp
	for _, m := range ms {
		switch m.key {
		case "remove":
			if op, err = parseMapRemoves(op, m.val); err != nil {
				return nil, err
			}
		case "update":
			if updates, err = parseMapUpdates(updates, m.val, now, depth); err != nil {
				return nil, err
			}
		default:
			return nil, errOp
		}
	}
	op.Edits = append(op.Edits, updates.Edits...)
	return op, nil
}

// parseMapRemoves adds the removes of a map operation's "remove" member
// (one field name or a list) to op.
func parseMapRemoves(op dt.MapOp, raw json.RawMessage) (dt.MapOp, error) {
	var names []string
	if s, ok := jsonString(raw); ok {
		names = []string{s}
	} else if l, ok := jsonStrings(raw); ok {
		names = l
	} else {
		return op, errOp
	}
	for _, n := range names {
		f, err := dt.ParseField(n)
		if err != nil {
			return op, &errField{n}
		}
		op = op.Remove(f)
	}
	return op, nil
}

// parseMapUpdates adds the field updates of a map operation's "update"
// member to op, each parsed as an operation on the field's type.
func parseMapUpdates(op dt.MapOp, raw json.RawMessage, now int64, depth int) (dt.MapOp, error) {
	fields, isObj, err := members(raw)
	if err != nil || !isObj {
		return op, errOp
	}
	for _, fm := range fields {
		f, err := dt.ParseField(fm.key)
		if err != nil {
			return op, &errField{fm.key}
		}
		sub, err := parseOp(f.Type, fm.val, now, depth+1)
		if err != nil {
			return op, err
		}
		op = op.Update(f, sub)
	}
	return op, nil
}
