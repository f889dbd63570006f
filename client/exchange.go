package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// Exchange performs one object request with as little work as possible,
// for load generators (riakgo bench): method GET, PUT or DELETE on loc,
// with body (nil for none) sent as contentType and vclock as X-Riak-Vclock
// when not empty. It returns the HTTP status and the response's
// X-Riak-Vclock, and discards the response body so the connection is
// reused. Unlike Get and Put it does not interpret the answer: a 404 or a
// 300 is a status, not an error; err reports only transport failures.
func (c *Client) Exchange(ctx context.Context, method string, loc Loc, body []byte, contentType, vclock string) (status int, vc string, err error) {
	if err := loc.check(true); err != nil {
		return 0, "", err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+loc.objectPath(), rd)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header["Content-Type"] = []string{contentType}
	}
	if vclock != "" {
		req.Header["X-Riak-Vclock"] = []string{vclock}
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	vc = resp.Header.Get("X-Riak-Vclock")
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, vc, err
}
