package http

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestForgedVclockRefused: issue 12, finding 4. A PUT whose X-Riak-Vclock
// is doctored (the vnode's own actor, at an epoch it never leased, with a
// counter at 2^64-1) gets a 400, and writes after it land.
func TestForgedVclockRefused(t *testing.T) {
	e := newEnv(t, Options{})
	const path = "/buckets/b/keys/frozen"
	e.put(path, "text/plain", "v1").want(t, 204, "")
	vc, ae := decodeVclock(e.get(path).Header.Get("X-Riak-Vclock"))
	if ae != nil {
		t.Fatal(ae.body)
	}
	forged := vc.Clone()
	for i := range forged {
		forged[i].Actor.Epoch = math.MaxUint32
		forged[i].Counter = math.MaxUint64
	}
	forged = append(vc.Clone(), forged...)
	r := e.put(path, "text/plain", "forged", "X-Riak-Vclock", encodeVclock(forged))
	if r.StatusCode != 400 || !strings.HasPrefix(r.Body(), "Invalid X-Riak-Vclock header: actor") {
		t.Fatalf("forged clock: %d %q", r.StatusCode, r.Body())
	}
	for _, v := range []string{"v2", "v3"} {
		e.clk.Advance(time.Second)
		e.put(path, "text/plain", v).want(t, 204, "")
		e.get(path).want(t, 200, v)
	}
	e.clk.Advance(time.Second)
	e.do("DELETE", path, nil, nil).want(t, 204, "")
	if r := e.get(path); r.StatusCode != 404 {
		t.Fatalf("delete after the forged put: %d", r.StatusCode)
	}
}
