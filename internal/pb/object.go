package pb

import (
	"bytes"
	"errors"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// quorumValue converts a quorum field (riak_pb's symbolic uint32 values or
// a count) to a quorum.Value; absent means the bucket's.
func quorumValue(p *uint32) quorum.Value {
	if p == nil {
		return quorum.ValDefault
	}
	switch *p {
	case riakpb.QuorumOne:
		return quorum.ValOne
	case riakpb.QuorumQuorum:
		return quorum.ValQuorum
	case riakpb.QuorumAll:
		return quorum.ValAll
	case riakpb.QuorumDefault:
		return quorum.ValDefault
	}
	if *p > 1<<20 {
		// Beyond any n_val; keep it positive so validation names it.
		return quorum.Of(1 << 20)
	}
	return quorum.Of(int(*p))
}

// quorumField converts a quorum.Value to its uint32 field form.
func quorumField(v quorum.Value) *uint32 {
	var u uint32
	switch v.Sym {
	case quorum.One:
		u = riakpb.QuorumOne
	case quorum.Quorum:
		u = riakpb.QuorumQuorum
	case quorum.All:
		u = riakpb.QuorumAll
	case quorum.Default:
		u = riakpb.QuorumDefault
	default:
		u = uint32(v.N)
	}
	return &u
}

// commonOptions sets the options every object request may carry.
func commonOptions(o *kv.Options, timeout *uint32, sloppy *bool, nVal *uint32) {
	if timeout != nil && *timeout > 0 {
		o.Timeout = msDuration(*timeout)
	}
	o.SloppyQuorum = sloppy
	if nVal != nil {
		o.NVal = int(min(*nVal, 1<<20))
		if o.NVal == 0 {
			o.NVal = -1 // asks for none: an n_val violation below
		}
	}
}

// checkNVal refuses n_val 0 (kv treats NVal ≤ 0 as "the bucket's").
func checkNVal(o kv.Options) error {
	if o.NVal < 0 {
		return &quorum.Error{Kind: quorum.Violation, Param: "n_val", Need: 0}
	}
	return nil
}

func decodeClock(b []byte) (vclock.VClock, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var vc vclock.VClock
	if err := vc.UnmarshalBinary(b); err != nil {
		return nil, fail("Invalid vclock: not a riakgo vector clock; send back the vclock of an earlier response unchanged")
	}
	if err := riakapi.CheckClock(vc); err != nil {
		return nil, fail("Invalid vclock: %v; send back the vclock of an earlier response unchanged", err)
	}
	return vc, nil
}

func encodeClock(vc vclock.VClock) []byte { return vc.AppendBinary(nil) }

// contents renders an object's siblings; head leaves the values out.
func contents(obj *siblings.Object, head bool) []*riakpb.RpbContent {
	out := make([]*riakpb.RpbContent, len(obj.Siblings))
	for i := range obj.Siblings {
		out[i] = content(&obj.Siblings[i], head)
	}
	return out
}

func content(s *siblings.Sibling, head bool) *riakpb.RpbContent {
	m := &s.Meta
	c := &riakpb.RpbContent{Value: s.Value}
	if head || c.Value == nil {
		c.Value = []byte{}
	}
	if m.ContentType != "" {
		c.ContentType = []byte(m.ContentType)
	}
	if m.Charset != "" {
		c.Charset = []byte(m.Charset)
	}
	if m.ContentEncoding != "" {
		c.ContentEncoding = []byte(m.ContentEncoding)
	}
	if m.VTag != "" {
		c.Vtag = []byte(m.VTag)
	}
	if m.LastModified > 0 {
		sec, usec := uint32(m.LastModified/1e6), uint32(m.LastModified%1e6)
		c.LastMod, c.LastModUsecs = &sec, &usec
	}
	for _, l := range m.Links {
		c.Links = append(c.Links, &riakpb.RpbLink{Bucket: []byte(l.Bucket), Key: []byte(l.Key), Tag: []byte(l.Tag)})
	}
	for _, p := range m.UserMeta {
		c.Usermeta = append(c.Usermeta, &riakpb.RpbPair{Key: []byte(p.Key), Value: []byte(p.Value)})
	}
	for _, x := range m.Indexes {
		c.Indexes = append(c.Indexes, &riakpb.RpbPair{Key: []byte(x.Field), Value: []byte(x.Value)})
	}
	if m.Deleted {
		t := true
		c.Deleted = &t
	}
	return c
}

// meta reads a put's metadata; the service stamps vtag and last-modified.
func meta(c *riakpb.RpbContent) (siblings.Meta, error) {
	m := siblings.Meta{
		ContentType:     string(c.ContentType),
		Charset:         string(c.Charset),
		ContentEncoding: string(c.ContentEncoding),
	}
	for _, p := range c.Usermeta {
		m.UserMeta = append(m.UserMeta, siblings.Pair{Key: string(p.Key), Value: string(p.Value)})
	}
	var idx []siblings.IndexEntry
	for _, p := range c.Indexes {
		idx = append(idx, siblings.IndexEntry{Field: string(p.Key), Value: string(p.Value)})
	}
	var err error
	if m.Indexes, err = riakapi.Indexes(idx); err != nil {
		return m, err
	}
	for _, l := range c.Links {
		m.Links = append(m.Links, siblings.Link{Bucket: string(l.Bucket), Key: string(l.Key), Tag: string(l.Tag)})
	}
	return m, nil
}

func (c *conn) get(code riakpb.Code, body []byte) error {
	var m riakpb.RpbGetReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	k := kv.Key{Type: typeOf(m.Type), Bucket: string(m.Bucket), Key: string(m.Key)}
	o := kv.Options{R: quorumValue(m.R), PR: quorumValue(m.Pr), NotFoundOK: m.NotfoundOk, BasicQuorum: m.BasicQuorum}
	commonOptions(&o, m.Timeout, m.SloppyQuorum, m.NVal)
	if err := checkNVal(o); err != nil {
		return err
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	obj, err := c.s.c.Get(ctx, k, o)
	if errors.Is(err, kv.ErrNotFound) {
		resp := &riakpb.RpbGetResp{}
		if obj != nil && m.GetDeletedvclock() {
			resp.Vclock = encodeClock(obj.Clock)
		}
		return c.reply(riakpb.CodeGetResp, resp)
	}
	if err != nil {
		return err
	}
	vc := encodeClock(obj.Clock)
	if m.IfModified != nil && bytes.Equal(m.IfModified, vc) {
		t := true
		return c.reply(riakpb.CodeGetResp, &riakpb.RpbGetResp{Unchanged: &t, Vclock: vc})
	}
	return c.reply(riakpb.CodeGetResp, &riakpb.RpbGetResp{Content: contents(obj, m.GetHead()), Vclock: vc})
}

func (c *conn) put(code riakpb.Code, body []byte) error {
	var m riakpb.RpbPutReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if m.GetAsis() {
		return fail("asis puts (replication) are not supported by riakgo")
	}
	k := kv.Key{Type: typeOf(m.Type), Bucket: string(m.Bucket), Key: string(m.Key)}
	o := kv.Options{W: quorumValue(m.W), DW: quorumValue(m.Dw), PW: quorumValue(m.Pw),
		ReturnBody: m.GetReturnBody() || m.GetReturnHead()}
	commonOptions(&o, m.Timeout, m.SloppyQuorum, m.NVal)
	if err := checkNVal(o); err != nil {
		return err
	}
	vc, err := decodeClock(m.Vclock)
	if err != nil {
		return err
	}
	md, err := meta(m.Content)
	if err != nil {
		return err
	}
	props, err := c.s.c.BucketProps(k.Type, k.Bucket)
	if err != nil {
		return err
	}
	if props.Datatype != "" {
		return fail("Bucket datatype '%s': write its values with DtUpdateReq", props.Datatype)
	}
	created := len(m.Key) == 0
	if created {
		k.Key = kv.Base62(c.s.cfg.Rand(), c.s.cfg.Rand())
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	if !created && (m.GetIfNotModified() || m.GetIfNoneMatch()) {
		// Riak checks these with a read before the write (not atomically).
		cur, err := c.s.c.Get(ctx, k, kv.Options{NVal: o.NVal, SloppyQuorum: o.SloppyQuorum, Timeout: o.Timeout})
		switch {
		case err == nil && m.GetIfNoneMatch():
			return fail("match_found")
		case err == nil && !cur.Clock.Equal(vc):
			return fail("modified")
		case errors.Is(err, kv.ErrNotFound) && m.GetIfNotModified():
			return fail("notfound")
		case err != nil && !errors.Is(err, kv.ErrNotFound):
			return err
		}
	}
	obj, err := c.s.c.Put(ctx, k, m.Content.Value, md, vc, o)
	if err != nil {
		return err
	}
	resp := &riakpb.RpbPutResp{}
	if created {
		resp.Key = []byte(k.Key)
	}
	if o.ReturnBody && obj != nil {
		resp.Content = contents(obj, m.GetReturnHead())
		resp.Vclock = encodeClock(obj.Clock)
	}
	return c.reply(riakpb.CodePutResp, resp)
}

func (c *conn) del(code riakpb.Code, body []byte) error {
	var m riakpb.RpbDelReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	k := kv.Key{Type: typeOf(m.Type), Bucket: string(m.Bucket), Key: string(m.Key)}
	o := kv.Options{RW: quorumValue(m.Rw), R: quorumValue(m.R), W: quorumValue(m.W),
		PR: quorumValue(m.Pr), PW: quorumValue(m.Pw), DW: quorumValue(m.Dw)}
	commonOptions(&o, m.Timeout, m.SloppyQuorum, m.NVal)
	if err := checkNVal(o); err != nil {
		return err
	}
	vc, err := decodeClock(m.Vclock)
	if err != nil {
		return err
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	if err := c.s.c.Delete(ctx, k, vc, o); err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	return c.reply(riakpb.CodeDelResp, nil)
}
