package pb

import (
	"context"
	"errors"
	"sort"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
)

// DatatypeClient is the part of the service the data-type and counter
// messages need. kv.Service implements it.
type DatatypeClient interface {
	FetchDatatype(ctx context.Context, k kv.Key, kind dt.Kind, o kv.Options) (dt.CRDT, error)
	UpdateDatatype(ctx context.Context, k kv.Key, kind dt.Kind, op dt.Op, dctx dt.Context, o kv.Options) (dt.CRDT, error)
}

func (c *conn) datatypes() (DatatypeClient, error) {
	if c.s.dc == nil {
		return nil, fail("Data types are not available on this node")
	}
	return c.s.dc, nil
}

func (c *conn) counterUpdate(code riakpb.Code, body []byte) error {
	var m riakpb.RpbCounterUpdateReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	dc, err := c.datatypes()
	if err != nil {
		return err
	}
	k := kv.Key{Type: kv.DefaultType, Bucket: string(m.Bucket), Key: string(m.Key)}
	props, err := c.s.c.BucketProps(k.Type, k.Bucket)
	if err != nil {
		return err
	}
	if err := riakapi.CounterBucket(props); err != nil {
		return err
	}
	o := kv.Options{W: quorumValue(m.W), DW: quorumValue(m.Dw), PW: quorumValue(m.Pw), ReturnBody: m.GetReturnvalue()}
	ctx, cancel := c.requestContext(0)
	defer cancel()
	v, err := dc.UpdateDatatype(ctx, k, dt.KindCounter, dt.CounterOp{Delta: *m.Amount}, dt.Context{}, o)
	if err != nil {
		return err
	}
	resp := &riakpb.RpbCounterUpdateResp{}
	if m.GetReturnvalue() {
		n := v.Value().(int64)
		resp.Value = &n
	}
	return c.reply(riakpb.CodeCounterUpdateResp, resp)
}

func (c *conn) counterGet(code riakpb.Code, body []byte) error {
	var m riakpb.RpbCounterGetReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	dc, err := c.datatypes()
	if err != nil {
		return err
	}
	k := kv.Key{Type: kv.DefaultType, Bucket: string(m.Bucket), Key: string(m.Key)}
	o := kv.Options{R: quorumValue(m.R), PR: quorumValue(m.Pr), NotFoundOK: m.NotfoundOk, BasicQuorum: m.BasicQuorum}
	ctx, cancel := c.requestContext(0)
	defer cancel()
	v, err := dc.FetchDatatype(ctx, k, dt.KindCounter, o)
	if errors.Is(err, kv.ErrNotFound) {
		return c.reply(riakpb.CodeCounterGetResp, &riakpb.RpbCounterGetResp{})
	}
	if err != nil {
		return err
	}
	n := v.Value().(int64)
	return c.reply(riakpb.CodeCounterGetResp, &riakpb.RpbCounterGetResp{Value: &n})
}

// pbKind maps a bucket's data type to DtFetchResp's type; riakgo's own
// types (oplog, bcounter) have no Protocol Buffers form.
func pbKind(k dt.Kind) (riakpb.DtFetchResp_DataType, error) {
	switch k {
	case dt.KindCounter:
		return riakpb.DtFetchResp_COUNTER, nil
	case dt.KindSet:
		return riakpb.DtFetchResp_SET, nil
	case dt.KindMap:
		return riakpb.DtFetchResp_MAP, nil
	case dt.KindHLL:
		return riakpb.DtFetchResp_HLL, nil
	case dt.KindGSet:
		return riakpb.DtFetchResp_GSET, nil
	}
	return 0, fail("Bucket datatype '%s' is riakgo's own and has no Protocol Buffers form; use the HTTP API", k)
}

// datatypeBucket returns the data type of a bucket's values.
func (c *conn) datatypeBucket(k kv.Key) (dt.Kind, riakpb.DtFetchResp_DataType, error) {
	props, err := c.s.c.BucketProps(k.Type, k.Bucket)
	if err != nil {
		return 0, 0, err
	}
	kind, err := riakapi.DatatypeKind(props)
	if err != nil {
		return 0, 0, err
	}
	pk, err := pbKind(kind)
	return kind, pk, err
}

// dtContext returns the context to send with a value (sets and maps).
func dtContext(kind dt.Kind, v dt.CRDT) []byte {
	if kind != dt.KindSet && kind != dt.KindMap {
		return nil
	}
	if ctx := v.Context(); !ctx.IsZero() {
		return ctx.Bytes()
	}
	return nil
}

// mapEntries renders a map's Value shape (fields keyed name_type).
func mapEntries(v map[string]any) ([]*riakpb.MapEntry, error) {
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*riakpb.MapEntry, 0, len(v))
	for _, n := range names {
		f, err := dt.ParseField(n)
		if err != nil {
			return nil, err
		}
		e := &riakpb.MapEntry{Field: &riakpb.MapField{Name: []byte(f.Name)}}
		var t riakpb.MapField_MapFieldType
		switch f.Type {
		case dt.KindCounter:
			t = riakpb.MapField_COUNTER
			n, _ := v[n].(int64)
			e.CounterValue = &n
		case dt.KindSet:
			t = riakpb.MapField_SET
			elems, _ := v[n].([]string)
			e.SetValue = toBytes(elems)
		case dt.KindRegister:
			t = riakpb.MapField_REGISTER
			s, _ := v[n].(string)
			e.RegisterValue = []byte(s)
		case dt.KindFlag:
			t = riakpb.MapField_FLAG
			b, _ := v[n].(bool)
			e.FlagValue = &b
		case dt.KindMap:
			t = riakpb.MapField_MAP
			sub, _ := v[n].(map[string]any)
			if e.MapValue, err = mapEntries(sub); err != nil {
				return nil, err
			}
		}
		e.Field.Type = &t
		out = append(out, e)
	}
	return out, nil
}

func (c *conn) dtFetch(code riakpb.Code, body []byte) error {
	var m riakpb.DtFetchReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	dc, err := c.datatypes()
	if err != nil {
		return err
	}
	k := kv.Key{Type: typeOf(m.Type), Bucket: string(m.Bucket), Key: string(m.Key)}
	kind, pk, err := c.datatypeBucket(k)
	if err != nil {
		return err
	}
	o := kv.Options{R: quorumValue(m.R), PR: quorumValue(m.Pr), NotFoundOK: m.NotfoundOk, BasicQuorum: m.BasicQuorum}
	commonOptions(&o, m.Timeout, m.SloppyQuorum, m.NVal)
	if err := checkNVal(o); err != nil {
		return err
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	v, err := dc.FetchDatatype(ctx, k, kind, o)
	if errors.Is(err, kv.ErrNotFound) {
		return c.reply(riakpb.CodeDtFetchResp, &riakpb.DtFetchResp{Type: &pk})
	}
	if err != nil {
		return err
	}
	resp := &riakpb.DtFetchResp{Type: &pk, Value: &riakpb.DtValue{}}
	if m.GetIncludeContext() {
		resp.Context = dtContext(kind, v)
	}
	val := resp.Value
	if err := fillValue(kind, v, &val.CounterValue, &val.SetValue, &val.MapValue, &val.HllValue, &val.GsetValue); err != nil {
		return err
	}
	return c.reply(riakpb.CodeDtFetchResp, resp)
}

// fillValue sets the value field of kind (DtValue and DtUpdateResp have
// the same ones).
func fillValue(kind dt.Kind, v dt.CRDT, counter **int64, set *[][]byte, mp *[]*riakpb.MapEntry, hll **uint64, gset *[][]byte) error {
	switch kind {
	case dt.KindCounter:
		n, _ := v.Value().(int64)
		*counter = &n
	case dt.KindSet:
		elems, _ := v.Value().([]string)
		*set = toBytes(elems)
	case dt.KindMap:
		fields, _ := v.Value().(map[string]any)
		entries, err := mapEntries(fields)
		if err != nil {
			return err
		}
		*mp = entries
	case dt.KindHLL:
		n, _ := v.Value().(uint64)
		*hll = &n
	case dt.KindGSet:
		elems, _ := v.Value().([]string)
		*gset = toBytes(elems)
	}
	return nil
}

func (c *conn) dtUpdate(code riakpb.Code, body []byte) error {
	var m riakpb.DtUpdateReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	dc, err := c.datatypes()
	if err != nil {
		return err
	}
	k := kv.Key{Type: typeOf(m.Type), Bucket: string(m.Bucket), Key: string(m.Key)}
	kind, _, err := c.datatypeBucket(k)
	if err != nil {
		return err
	}
	op, err := dtOp(kind, m.Op, c.s.cfg.Clock.Now().UnixMicro())
	if err != nil {
		return err
	}
	var dctx dt.Context
	if len(m.Context) > 0 {
		if dctx, err = dt.ParseContext(m.Context); err != nil {
			return fail("Invalid context: send back the context of an earlier fetch unchanged")
		}
	}
	o := kv.Options{W: quorumValue(m.W), DW: quorumValue(m.Dw), PW: quorumValue(m.Pw), ReturnBody: m.GetReturnBody()}
	commonOptions(&o, m.Timeout, m.SloppyQuorum, m.NVal)
	if err := checkNVal(o); err != nil {
		return err
	}
	created := len(m.Key) == 0
	if created {
		k.Key = kv.Base62(c.s.cfg.Rand(), c.s.cfg.Rand())
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	v, err := dc.UpdateDatatype(ctx, k, kind, op, dctx, o)
	if err != nil {
		return err
	}
	resp := &riakpb.DtUpdateResp{}
	if created {
		resp.Key = []byte(k.Key)
	}
	if m.GetReturnBody() && v != nil {
		if m.GetIncludeContext() {
			resp.Context = dtContext(kind, v)
		}
		if err := fillValue(kind, v, &resp.CounterValue, &resp.SetValue, &resp.MapValue, &resp.HllValue, &resp.GsetValue); err != nil {
			return err
		}
	}
	return c.reply(riakpb.CodeDtUpdateResp, resp)
}

// dtOp converts a DtOp to the operation on kind; the op present must match
// the bucket's data type. now stamps register assignments (microseconds).
func dtOp(kind dt.Kind, op *riakpb.DtOp, now int64) (dt.Op, error) {
	present := 0
	for _, p := range []bool{op.CounterOp != nil, op.SetOp != nil, op.MapOp != nil, op.HllOp != nil, op.GsetOp != nil} {
		if p {
			present++
		}
	}
	if present != 1 {
		return nil, fail("Invalid DtOp: it must hold exactly one operation (it holds %d)", present)
	}
	mismatch := func(got string) error {
		return fail("Operation type is `%s` but the bucket type's datatype is `%s`", got, kind)
	}
	switch {
	case op.CounterOp != nil:
		if kind != dt.KindCounter {
			return nil, mismatch("counter")
		}
		return counterOp(op.CounterOp), nil
	case op.SetOp != nil:
		if kind != dt.KindSet {
			return nil, mismatch("set")
		}
		return setOp(op.SetOp), nil
	case op.HllOp != nil:
		if kind != dt.KindHLL {
			return nil, mismatch("hll")
		}
		return dt.HLLOp{Elements: strs(op.HllOp.Adds)}, nil
	case op.GsetOp != nil:
		if kind != dt.KindGSet {
			return nil, mismatch("gset")
		}
		return dt.GSetOp{Elements: strs(op.GsetOp.Adds)}, nil
	default:
		if kind != dt.KindMap {
			return nil, mismatch("map")
		}
		return mapOp(op.MapOp, now, 1)
	}
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

func counterOp(o *riakpb.CounterOp) dt.CounterOp {
	if o.Increment == nil {
		return dt.CounterOp{Delta: 1} // absent: increment by one
	}
	return dt.CounterOp{Delta: *o.Increment}
}

// setOp adds, then removes (riak_pb's order).
func setOp(o *riakpb.SetOp) dt.SetOp {
	var op dt.SetOp
	if len(o.Adds) > 0 {
		op = op.Add(strs(o.Adds)...)
	}
	if len(o.Removes) > 0 {
		op = op.Remove(strs(o.Removes)...)
	}
	return op
}

func fieldOf(f *riakpb.MapField) (dt.Field, error) {
	var k dt.Kind
	switch f.GetType() {
	case riakpb.MapField_COUNTER:
		k = dt.KindCounter
	case riakpb.MapField_SET:
		k = dt.KindSet
	case riakpb.MapField_REGISTER:
		k = dt.KindRegister
	case riakpb.MapField_FLAG:
		k = dt.KindFlag
	case riakpb.MapField_MAP:
		k = dt.KindMap
	default:
		return dt.Field{}, fail("Invalid map field type %d", int32(f.GetType()))
	}
	return dt.Field{Name: string(f.Name), Type: k}, nil
}

// mapOp converts a MapOp: removals, then updates (riak_pb's order).
func mapOp(o *riakpb.MapOp, now int64, depth int) (dt.Op, error) {
	if depth > dt.MaxDepth {
		return nil, fail("Invalid MapOp: maps nested deeper than %d levels", dt.MaxDepth)
	}
	var op dt.MapOp
	for _, r := range o.Removes {
		f, err := fieldOf(r)
		if err != nil {
			return nil, err
		}
		op = op.Remove(f)
	}
	for _, u := range o.Updates {
		f, err := fieldOf(u.Field)
		if err != nil {
			return nil, err
		}
		var sub dt.Op
		switch f.Type {
		case dt.KindCounter:
			if u.CounterOp == nil {
				return nil, fail("Invalid MapUpdate of counter field '%s': it needs counter_op", f.Name)
			}
			sub = counterOp(u.CounterOp)
		case dt.KindSet:
			if u.SetOp == nil {
				return nil, fail("Invalid MapUpdate of set field '%s': it needs set_op", f.Name)
			}
			sub = setOp(u.SetOp)
		case dt.KindRegister:
			if u.RegisterOp == nil {
				return nil, fail("Invalid MapUpdate of register field '%s': it needs register_op", f.Name)
			}
			sub = dt.RegisterOp{Value: string(u.RegisterOp), Timestamp: now}
		case dt.KindFlag:
			if u.FlagOp == nil {
				return nil, fail("Invalid MapUpdate of flag field '%s': it needs flag_op", f.Name)
			}
			sub = dt.FlagOp{Enable: u.GetFlagOp() == riakpb.MapUpdate_ENABLE}
		case dt.KindMap:
			if u.MapOp == nil {
				return nil, fail("Invalid MapUpdate of map field '%s': it needs map_op", f.Name)
			}
			var err error
			if sub, err = mapOp(u.MapOp, now, depth+1); err != nil {
				return nil, err
			}
		}
		op = op.Update(f, sub)
	}
	return op, nil
}
