package pb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
)

// streamed sends one response of a stream and flushes it, so the client
// sees each chunk as it is produced.
func (c *conn) streamed(code riakpb.Code, m riakpb.Message) error {
	if err := c.reply(code, m); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return &writeError{err}
	}
	return nil
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func (c *conn) listBuckets(code riakpb.Code, body []byte) error {
	var m riakpb.RpbListBucketsReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	typ := typeOf(m.Type)
	if !m.GetStream() {
		var all [][]byte
		if err := c.s.c.ListBuckets(ctx, typ, func(b []string) error { all = append(all, toBytes(b)...); return nil }); err != nil {
			return err
		}
		return c.reply(riakpb.CodeListBucketsResp, &riakpb.RpbListBucketsResp{Buckets: all})
	}
	err := c.s.c.ListBuckets(ctx, typ, func(b []string) error {
		return c.streamed(riakpb.CodeListBucketsResp, &riakpb.RpbListBucketsResp{Buckets: toBytes(b)})
	})
	if err != nil {
		// Part of the stream may have gone out; RpbErrorResp ends it, as
		// in Riak.
		return err
	}
	return c.reply(riakpb.CodeListBucketsResp, &riakpb.RpbListBucketsResp{Done: bptr(true)})
}

func (c *conn) listKeys(code riakpb.Code, body []byte) error {
	var m riakpb.RpbListKeysReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if len(m.Bucket) == 0 {
		return fail("Invalid bucket or key: the bucket name is empty")
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	err := c.s.c.ListKeys(ctx, typeOf(m.Type), string(m.Bucket), func(k []string) error {
		return c.streamed(riakpb.CodeListKeysResp, &riakpb.RpbListKeysResp{Keys: toBytes(k)})
	})
	if err != nil {
		return err
	}
	return c.reply(riakpb.CodeListKeysResp, &riakpb.RpbListKeysResp{Done: bptr(true)})
}

func (c *conn) index(code riakpb.Code, body []byte) error {
	var m riakpb.RpbIndexReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if m.GetReturnBody() {
		return fail("return_body on index queries is not supported by riakgo; fetch the keys with RpbGetReq")
	}
	if len(m.CoverContext) > 0 && !bytes.Equal(m.CoverContext, wholeCover) {
		return fail("Invalid cover_context: send back one of the cover contexts of an RpbCoverageResp unchanged")
	}
	field := strings.ToLower(string(m.Index))
	q := kv.IndexQuery{Type: typeOf(m.Type), Bucket: string(m.Bucket), Field: field}
	if err := riakapi.IndexField(field); err != nil {
		return err
	}
	switch *m.Qtype {
	case riakpb.RpbIndexReq_eq:
		if m.Key == nil {
			return fail("Invalid query: an eq query needs key (the term)")
		}
		q.Start, q.End = string(m.Key), string(m.Key)
	case riakpb.RpbIndexReq_range:
		if m.RangeMin == nil || m.RangeMax == nil {
			return fail("Invalid query: a range query needs range_min and range_max")
		}
		q.Start, q.End, q.Range = string(m.RangeMin), string(m.RangeMax), true
	default:
		return fail("Invalid query: unknown qtype %d", int32(*m.Qtype))
	}
	q.ReturnTerms = m.GetReturnTerms() && riakapi.QueryReturnsTerms(q)
	if m.MaxResults != nil {
		if *m.MaxResults == 0 {
			return fail("Invalid max_results: 0 is not a positive integer")
		}
		q.MaxResults = int(min(*m.MaxResults, 1<<30))
	}
	q.Continuation = string(m.Continuation)
	if len(m.TermRegex) > 0 {
		rx, err := riakapi.TermRegex(field, string(m.TermRegex))
		if err != nil {
			return err
		}
		q.TermRegex = rx
	}
	ctx, cancel := c.requestContext(m.GetTimeout())
	defer cancel()
	render := func(res []kv.IndexResult, resp *riakpb.RpbIndexResp) {
		for _, r := range res {
			if q.ReturnTerms {
				resp.Results = append(resp.Results, &riakpb.RpbPair{Key: []byte(r.Term), Value: []byte(r.Key)})
			} else {
				resp.Keys = append(resp.Keys, []byte(r.Key))
			}
		}
	}
	if !m.GetStream() {
		resp := &riakpb.RpbIndexResp{}
		cont, err := c.s.c.Query(ctx, q, func(res []kv.IndexResult) error { render(res, resp); return nil })
		if err != nil {
			return indexError(err)
		}
		if cont != "" {
			resp.Continuation = []byte(cont)
		}
		return c.reply(riakpb.CodeIndexResp, resp)
	}
	cont, err := c.s.c.Query(ctx, q, func(res []kv.IndexResult) error {
		resp := &riakpb.RpbIndexResp{}
		render(res, resp)
		return c.streamed(riakpb.CodeIndexResp, resp)
	})
	if err != nil {
		return indexError(err)
	}
	done := &riakpb.RpbIndexResp{Done: bptr(true)}
	if cont != "" {
		done.Continuation = []byte(cont)
	}
	return c.reply(riakpb.CodeIndexResp, done)
}

func indexError(err error) error {
	var we *writeError
	if errors.As(err, &we) {
		return err
	}
	if errors.Is(err, kv.ErrBadIndex) {
		if c, ok := kv.UserDetail(err, kv.ErrBadContinuation); ok {
			return fail("Invalid continuation: %s", c)
		}
		d, _ := kv.UserDetail(err, kv.ErrBadIndex)
		return fail("Invalid query: %s", d)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail("timeout")
	}
	return err
}

// wholeCover is the cover context of riakgo's coverage plan: one entry for
// the whole keyspace. Any node answers a 2i query for the whole cluster,
// so a plan needs no more; the context is checked when sent back.
var wholeCover = []byte("riakgo:cover:all")

func (c *conn) coverage(code riakpb.Code, body []byte) error {
	var m riakpb.RpbCoverageReq
	if err := decode(code, body, &m); err != nil {
		return err
	}
	if _, err := c.s.c.BucketProps(typeOf(m.Type), string(m.Bucket)); err != nil {
		return err
	}
	host, port := "127.0.0.1", 8087
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		host, port = a.IP.String(), a.Port
	}
	p := uint32(port)
	return c.reply(riakpb.CodeCoverageResp, &riakpb.RpbCoverageResp{Entries: []*riakpb.RpbCoverageEntry{{
		Ip: []byte(host), Port: &p, CoverContext: wholeCover,
		KeyspaceDesc: []byte(fmt.Sprintf("all partitions of %s", c.s.cfg.Node)),
	}}})
}
