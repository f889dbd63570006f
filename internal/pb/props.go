package pb

import (
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"time"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
)

func msDuration(ms uint32) time.Duration { return time.Duration(ms) * time.Millisecond }

func u32(n int64) *uint32 {
	u := uint32(min(max(n, 0), 1<<32-1))
	return &u
}

func bptr(b bool) *bool { return &b }

// bucketProps renders kv.Props as RpbBucketProps.
func bucketProps(p kv.Props) *riakpb.RpbBucketProps {
	out := &riakpb.RpbBucketProps{
		NVal:          u32(int64(p.NVal)),
		AllowMult:     bptr(p.AllowMult),
		LastWriteWins: bptr(p.LastWriteWins),
		HasPrecommit:  bptr(false),
		HasPostcommit: bptr(false),
		ChashKeyfun:   &riakpb.RpbModFun{Module: []byte("riak_core_util"), Function: []byte("chash_std_keyfun")},
		Linkfun:       &riakpb.RpbModFun{Module: []byte("riak_kv_wm_link_walker"), Function: []byte("mapreduce_linkfun")},
		OldVclock:     u32(p.OldVclock),
		YoungVclock:   u32(p.YoungVclock),
		BigVclock:     u32(int64(p.BigVclock)),
		SmallVclock:   u32(int64(p.SmallVclock)),
		Pr:            quorumField(p.PR),
		R:             quorumField(p.R),
		W:             quorumField(p.W),
		Pw:            quorumField(p.PW),
		Dw:            quorumField(p.DW),
		Rw:            quorumField(p.RW),
		BasicQuorum:   bptr(p.BasicQuorum),
		NotfoundOk:    bptr(p.NotFoundOK),
		Consistent:    bptr(false),
		WriteOnce:     bptr(p.WriteOnce),
	}
	if p.Datatype != "" {
		out.Datatype = []byte(p.Datatype)
	}
	return out
}

// propsJSON converts the fields present in RpbBucketProps to the JSON
// properties kv validates (the same names and rules as the HTTP API).
func propsJSON(p *riakpb.RpbBucketProps) (map[string]json.RawMessage, error) {
	raw := map[string]json.RawMessage{}
	num := func(name string, v *uint32) {
		if v != nil {
			raw[name] = json.RawMessage(strconv.FormatUint(uint64(*v), 10))
		}
	}
	boolean := func(name string, v *bool) {
		if v != nil {
			raw[name] = json.RawMessage(strconv.FormatBool(*v))
		}
	}
	quorumProp := func(name string, v *uint32) {
		if v == nil {
			return
		}
		q := quorumValue(v)
		if q.Sym == quorum.Default {
			raw[name] = json.RawMessage(`"default"`)
			return
		}
		b, _ := json.Marshal(q)
		raw[name] = b
	}
	num("n_val", p.NVal)
	boolean("allow_mult", p.AllowMult)
	boolean("last_write_wins", p.LastWriteWins)
	num("old_vclock", p.OldVclock)
	num("young_vclock", p.YoungVclock)
	num("big_vclock", p.BigVclock)
	num("small_vclock", p.SmallVclock)
	quorumProp("pr", p.Pr)
	quorumProp("r", p.R)
	quorumProp("w", p.W)
	quorumProp("pw", p.Pw)
	quorumProp("dw", p.Dw)
	quorumProp("rw", p.Rw)
	boolean("basic_quorum", p.BasicQuorum)
	boolean("notfound_ok", p.NotfoundOk)
	boolean("consistent", p.Consistent)
	boolean("write_once", p.WriteOnce)
	boolean("search", p.Search)
	if p.Datatype != nil {
		b, _ := json.Marshal(string(p.Datatype))
		raw["datatype"] = b
	}
	if p.Backend != nil {
		b, _ := json.Marshal(string(p.Backend))
		raw["backend"] = b
	}
	if p.SearchIndex != nil {
		b, _ := json.Marshal(string(p.SearchIndex))
		raw["search_index"] = b
	}
	if p.Repl != nil && *p.Repl != riakpb.RpbBucketProps_FALSE {
		return nil, fail("Invalid bucket properties: repl: multi-datacenter replication is not supported by riakgo")
	}
	if p.HllPrecision != nil {
		return nil, fail("Invalid bucket properties: hll_precision: riakgo's HyperLogLogs have a fixed precision")
	}
	if len(p.Precommit) > 0 || len(p.Postcommit) > 0 {
		return nil, fail("Invalid bucket properties: commit hooks are not supported by riakgo")
	}
	return raw, nil
}

func (c *conn) getBucket(code riakpb.Code, body []byte) error {
	var m riakpb.RpbGetBucketReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if len(m.Bucket) == 0 {
		return fail("Invalid bucket or key: the bucket name is empty")
	}
	p, err := c.s.c.BucketProps(typeOf(m.Type), string(m.Bucket))
	if err != nil {
		return err
	}
	return c.reply(riakpb.CodeGetBucketResp, &riakpb.RpbGetBucketResp{Props: bucketProps(p)})
}

func (c *conn) setBucket(code riakpb.Code, body []byte) error {
	var m riakpb.RpbSetBucketReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if len(m.Bucket) == 0 {
		return fail("Invalid bucket or key: the bucket name is empty")
	}
	raw, err := propsJSON(m.Props)
	if err != nil {
		return err
	}
	if err := c.s.c.SetBucketProps(typeOf(m.Type), string(m.Bucket), raw); err != nil {
		return err
	}
	return c.reply(riakpb.CodeSetBucketResp, nil)
}

func (c *conn) resetBucket(code riakpb.Code, body []byte) error {
	var m riakpb.RpbResetBucketReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if len(m.Bucket) == 0 {
		return fail("Invalid bucket or key: the bucket name is empty")
	}
	if err := c.s.c.ResetBucketProps(typeOf(m.Type), string(m.Bucket)); err != nil {
		return err
	}
	return c.reply(riakpb.CodeResetBucketResp, nil)
}

func (c *conn) getBucketType(code riakpb.Code, body []byte) error {
	var m riakpb.RpbGetBucketTypeReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	// A type's props are those of the bucket with the empty name.
	p, err := c.s.c.BucketProps(typeOf(m.Type), "")
	if err != nil && !errors.Is(err, kv.ErrBadKey) {
		return err
	}
	return c.reply(riakpb.CodeGetBucketResp, &riakpb.RpbGetBucketResp{Props: bucketProps(p)})
}

func (c *conn) setBucketType(code riakpb.Code, body []byte) error {
	var m riakpb.RpbSetBucketTypeReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	raw, err := propsJSON(m.Props)
	if err != nil {
		return err
	}
	if err := c.s.c.UpdateType(typeOf(m.Type), raw); err != nil {
		if errors.Is(err, kv.ErrUnknownType) || errors.Is(err, kv.ErrTypeNotActive) {
			return fail("Cannot modify unknown or inactive bucket type: %s", typeOf(m.Type))
		}
		var pe *kv.PropsError
		if errors.As(err, &pe) && pe.Reasons["default"] == "no_default_update" {
			return fail("Invalid bucket type properties: the default bucket type cannot be changed; set bucket properties with RpbSetBucketReq")
		}
		return err
	}
	return c.reply(riakpb.CodeSetBucketResp, nil)
}

func (c *conn) preflist(code riakpb.Code, body []byte) error {
	var m riakpb.RpbGetBucketKeyPreflistReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	k := kv.Key{Type: typeOf(m.Type), Bucket: string(m.Bucket), Key: string(m.Key)}
	pl, err := c.s.c.Preflist(k)
	if err != nil {
		return err
	}
	// PB names partitions by number (0 .. ring size-1), not by their
	// 160-bit ring index as the HTTP route does.
	size := big.NewInt(int64(max(c.s.c.Stats().RingSize, 1)))
	width := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 160), size)
	resp := &riakpb.RpbGetBucketKeyPreflistResp{}
	for _, e := range pl {
		id := new(big.Int).Div(e.Partition, width).Int64()
		primary := e.Primary
		resp.Preflist = append(resp.Preflist, &riakpb.RpbBucketKeyPreflistItem{Partition: &id, Node: []byte(e.Node), Primary: &primary})
	}
	return c.reply(riakpb.CodeGetBucketKeyPreflistResp, resp)
}
