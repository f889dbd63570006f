package pb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/kv"
)

// respError is a failure answered with RpbErrorResp; the connection stays
// open.
type respError struct{ msg string }

func (e *respError) Error() string { return e.msg }

func fail(format string, args ...any) error { return &respError{msg: fmt.Sprintf(format, args...)} }

// handle answers one request. It returns whether the request succeeded
// and a write error (which closes the connection).
func (c *conn) handle(code riakpb.Code, body []byte) (bool, error) {
	err := c.dispatch(code, body)
	if err == nil {
		return true, nil
	}
	var we *writeError
	if errors.As(err, &we) {
		return false, we.err
	}
	if c.timedOut(err) {
		err = context.DeadlineExceeded // Riak's "timeout"
	}
	return false, c.send(riakpb.CodeErrorResp, errorResp(errorText(err)))
}

// writeError wraps a failure to write to the connection.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// reply sends a response; a write failure becomes a *writeError.
func (c *conn) reply(code riakpb.Code, m riakpb.Message) error {
	if err := c.send(code, m); err != nil {
		return &writeError{err}
	}
	return nil
}

// decode parses a request body into m. A body that is not protobuf, or a
// message without a required field, is the client's error. Neither is
// found by reading the protobuf runtime's error text (whose prefix
// varies between builds on purpose).
func decode(code riakpb.Code, body []byte, m riakpb.Message) error {
	if err := riakpb.UnmarshalPartial(body, m); err != nil {
		return fail("Invalid %s: the body is not a valid protobuf message (%v)", code, err)
	}
	if name := riakpb.MissingRequired(m); name != "" {
		return fail("Invalid %s: required field %s not set", code, name)
	}
	return nil
}

// requestContext returns the context of a request with a timeout option
// (milliseconds; 0 or absent means the service's default), on the
// server's clock (clock.WithTimeout: it ends with DeadlineExceeded once
// the time has passed, on the wall clock or any other).
func (c *conn) requestContext(timeoutMs uint32) (context.Context, context.CancelFunc) {
	if timeoutMs == 0 {
		return context.WithCancel(c.s.ctx)
	}
	return clock.WithTimeout(c.s.ctx, c.s.cfg.Clock, time.Duration(timeoutMs)*time.Millisecond)
}

// timedOut reports whether a request failed with err because its timeout
// passed. clock.WithTimeout ends a request's context with
// DeadlineExceeded on any clock, and the server closing with Canceled, so
// the error says which.
func (c *conn) timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded)
}

func (c *conn) dispatch(code riakpb.Code, body []byte) error {
	s := c.s
	switch code {
	case riakpb.CodePingReq:
		return c.reply(riakpb.CodePingResp, nil)
	case riakpb.CodeGetServerInfoReq:
		return c.reply(riakpb.CodeGetServerInfoResp, &riakpb.RpbGetServerInfoResp{
			Node:          []byte(s.cfg.Node),
			ServerVersion: []byte("riakgo " + s.cfg.Version),
		})
	case riakpb.CodeGetClientIDReq:
		id := c.clientID
		if id == nil {
			id = []byte{0, 0, 0, 0}
		}
		return c.reply(riakpb.CodeGetClientIDResp, &riakpb.RpbGetClientIdResp{ClientId: id})
	case riakpb.CodeSetClientIDReq:
		var m riakpb.RpbSetClientIdReq
		if err := decode(code, body, &m); err != nil {
			return err
		}
		c.clientID = append([]byte(nil), m.ClientId...)
		return c.reply(riakpb.CodeSetClientIDResp, nil)
	case riakpb.CodeGetReq:
		return c.get(code, body)
	case riakpb.CodePutReq:
		return c.put(code, body)
	case riakpb.CodeDelReq:
		return c.del(code, body)
	case riakpb.CodeGetBucketReq:
		return c.getBucket(code, body)
	case riakpb.CodeSetBucketReq:
		return c.setBucket(code, body)
	case riakpb.CodeResetBucketReq:
		return c.resetBucket(code, body)
	case riakpb.CodeGetBucketTypeReq:
		return c.getBucketType(code, body)
	case riakpb.CodeSetBucketTypeReq:
		return c.setBucketType(code, body)
	case riakpb.CodeGetBucketKeyPreflistReq:
		return c.preflist(code, body)
	case riakpb.CodeListBucketsReq:
		return c.listBuckets(code, body)
	case riakpb.CodeListKeysReq:
		return c.listKeys(code, body)
	case riakpb.CodeIndexReq:
		return c.index(code, body)
	case riakpb.CodeCoverageReq:
		return c.coverage(code, body)
	case riakpb.CodeCounterUpdateReq:
		return c.counterUpdate(code, body)
	case riakpb.CodeCounterGetReq:
		return c.counterGet(code, body)
	case riakpb.CodeDtFetchReq:
		return c.dtFetch(code, body)
	case riakpb.CodeDtUpdateReq:
		return c.dtUpdate(code, body)
	case riakpb.CodeMapRedReq:
		return fail("MapReduce is not supported by riakgo; use secondary indexes or key listing and compute in the client")
	case riakpb.CodeSearchQueryReq, riakpb.CodeYokozunaIndexGetReq, riakpb.CodeYokozunaIndexPutReq,
		riakpb.CodeYokozunaIndexDeleteReq, riakpb.CodeYokozunaSchemaGetReq, riakpb.CodeYokozunaSchemaPutReq:
		return fail("Riak Search (Yokozuna/Solr) is not supported by riakgo; use secondary indexes")
	case riakpb.CodeTsQueryReq, riakpb.CodeTsPutReq, riakpb.CodeTsDelReq, riakpb.CodeTsGetReq,
		riakpb.CodeTsListKeysReq, riakpb.CodeTsCoverageReq, riakpb.CodeTsTtbMsg:
		return fail("Riak TS (time series) is not supported by riakgo")
	case riakpb.CodeCSBucketReq:
		return fail("RpbCSBucketReq (Riak CS bucket folds) is not supported by riakgo; use list keys or a $bucket index query")
	}
	if code.Known() {
		return fail("Unexpected message %s: it is a response, not a request", code)
	}
	return fail("Unknown message code: %d", uint8(code))
}

// errorText renders a failure as Riak's error text.
func errorText(err error) string {
	var re *respError
	if errors.As(err, &re) {
		return re.msg
	}
	return kvErrorText(err)
}

// typeOf returns a request's bucket type (absent: default).
func typeOf(t []byte) string {
	if len(t) == 0 {
		return kv.DefaultType
	}
	return string(t)
}
