package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/kv"
)

func TestLegacyCounters(t *testing.T) {
	e := newEnv(t, Options{})
	const path = "/buckets/cnt/counters/c"
	// Riak refuses counters on a bucket without allow_mult.
	e.do("POST", path, nil, []byte("1")).want(t, 409, "Counters require bucket property 'allow_mult=true'\n")
	e.setProps("/buckets/cnt/props", `{"props":{"allow_mult":true}}`)
	e.get(path).want(t, 404, "not found\n")
	e.do("POST", path, nil, []byte("4")).want(t, 204, "")
	e.do("POST", path+"?returnvalue=true", nil, []byte("-2")).want(t, 200, "2").wantHeader(t, "Content-Type", "text/plain")
	e.get(path).want(t, 200, "2")
	for _, bad := range []string{"", "x", "1.5", " 3", "9223372036854775808"} {
		r := e.do("POST", path, nil, []byte(bad))
		if r.StatusCode != 400 {
			t.Errorf("body %q: status %d, want 400", bad, r.StatusCode)
		}
	}
	e.get(path).want(t, 200, "2")
	if r := e.do("PUT", path, nil, []byte("1")); r.StatusCode != 405 {
		t.Errorf("PUT on a counter: %d, want 405", r.StatusCode)
	}
	// The data-type URL on the default type redirects to the legacy one.
	noFollow := &nethttp.Client{CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse }}
	rr, err := noFollow.Get(e.srv.URL + "/types/default/buckets/cnt/datatypes/c")
	if err != nil {
		t.Fatal(err)
	}
	rr.Body.Close()
	if rr.StatusCode != 301 || rr.Header.Get("Location") != path {
		t.Errorf("default-type datatypes URL: %d Location %q", rr.StatusCode, rr.Header.Get("Location"))
	}
	e.alive()
}

// TestCounterConcurrentIncrementsAllCount: increments from many goroutines,
// coordinated on whichever vnode, all count: concurrent updates become
// siblings that every read merges.
func TestCounterConcurrentIncrementsAllCount(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/cc/props", `{"props":{"allow_mult":true}}`)
	k := kv.Key{Type: kv.DefaultType, Bucket: "cc", Key: "n"}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := e.svc.UpdateDatatype(context.Background(), k, dt.KindCounter, dt.CounterOp{Delta: int64(g + 1)}, dt.Context{}, kv.Options{}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	want := 0
	for g := 1; g <= 8; g++ {
		want += 25 * g
	}
	e.get("/buckets/cc/counters/n").want(t, 200, fmt.Sprint(want))
}

// TestCounterOnPlainObject: a counter read of a key that holds an ordinary
// value is refused with a clear error, not a crash.
func TestCounterOnPlainObject(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/mix/props", `{"props":{"allow_mult":true}}`)
	e.put("/buckets/mix/keys/k", "text/plain", "not a counter").want(t, 204, "")
	r := e.get("/buckets/mix/counters/k")
	if r.StatusCode != 409 {
		t.Fatalf("counter read of a plain object: %d %q, want 409", r.StatusCode, r.Body())
	}
	r = e.do("POST", "/buckets/mix/counters/k", nil, []byte("1"))
	if r.StatusCode != 409 {
		t.Fatalf("counter update of a plain object: %d %q, want 409", r.StatusCode, r.Body())
	}
	e.alive()
}

// TestCounterOverflowRefused: issue 12, finding 8 over HTTP. An increment
// that would take a counter past the int64 range is a 400; the value stays.
func TestCounterOverflowRefused(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/cnt/props", `{"props":{"allow_mult":true}}`)
	const path = "/buckets/cnt/counters/big"
	e.do("POST", path, nil, []byte("9223372036854775807")).want(t, 204, "")
	if r := e.do("POST", path, nil, []byte("1")); r.StatusCode != 400 || !strings.Contains(string(r.body), "counter overflow") {
		t.Fatalf("MaxInt64 + 1: %d %q", r.StatusCode, r.body)
	}
	e.get(path).want(t, 200, "9223372036854775807")
	e.do("POST", path, nil, []byte("-1")).want(t, 204, "")
	e.get(path).want(t, 200, "9223372036854775806")
}
