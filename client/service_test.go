package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
)

func TestPingStatsPreflist(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	if err := n.c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	n.mustPut(t, client.Loc{Bucket: "b", Key: "k"}, text("v"))
	st, err := n.c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st["riak_kv_version"] != "2.2.3" || st["nodename"] != "riakgo@127.0.0.1" {
		t.Errorf("stats riak_kv_version %v nodename %v", st["riak_kv_version"], st["nodename"])
	}
	if puts, ok := st["node_puts_total"].(json.Number); !ok || puts.String() == "0" {
		t.Errorf("node_puts_total = %#v", st["node_puts_total"])
	}

	pl, err := n.c.Preflist(ctx, client.Loc{Bucket: "b", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl) != 3 {
		t.Fatalf("preflist of %d entries, want n_val 3", len(pl))
	}
	for _, e := range pl {
		if !e.Primary || e.Node != "riakgo@127.0.0.1" || e.Partition == nil || e.Partition.Sign() < 0 {
			t.Errorf("entry %+v", e)
		}
	}
	if pl[0].Partition.Cmp(pl[1].Partition) == 0 {
		t.Error("two preflist entries share a partition")
	}
}

func TestNewValidatesAndOptionsApply(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8098", "ftp://host", "http://", "http://h:1/?q=1", "http://h/%zz"} {
		if _, err := client.New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := client.New("http://h", client.WithHTTPClient(nil)); err == nil {
		t.Error("nil http client accepted")
	}
	if _, err := client.New("http://h", client.WithClientID("a\nb")); err == nil {
		t.Error("client id with a newline accepted")
	}
	if _, err := client.New("http://h", client.WithTimeout(-time.Second)); err == nil {
		t.Error("negative timeout accepted")
	}

	// A path prefix is kept; the client id and user agent are sent; a
	// custom http.Client is used.
	seen := make(chan *http.Request, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		if strings.HasSuffix(r.URL.Path, "/ping") {
			w.Write([]byte("OK"))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Riak-Vclock", "a85hYGBgzGDKBVIcypz/fgaUHjmTwZTImMfKsMKK7RRfFgA=")
		w.Write([]byte("v"))
	}))
	defer srv.Close()
	used := false
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := client.New(srv.URL+"/riak-proxy/", client.WithHTTPClient(hc), client.WithClientID("me"), client.WithUserAgent("ua/1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-seen
	if r.URL.Path != "/riak-proxy/ping" || r.Header.Get("User-Agent") != "ua/1" || r.Header.Get("X-Riak-ClientId") != "" {
		t.Errorf("ping request %s ua %q id %q", r.URL.Path, r.Header.Get("User-Agent"), r.Header.Get("X-Riak-ClientId"))
	}
	obj, err := c.Get(ctx, client.Loc{Type: "t y", Bucket: "b", Key: "k"}, &client.GetOptions{R: client.One, PR: client.N(1), NotFoundOK: client.Bool(false), BasicQuorum: client.Bool(true), Timeout: 1500 * time.Millisecond})
	if err != nil || string(obj.Content().Value) != "v" || obj.VClock == "" {
		t.Fatalf("Get = %+v, %v", obj, err)
	}
	r = <-seen
	if r.URL.EscapedPath() != "/riak-proxy/types/t%20y/buckets/b/keys/k" || r.Header.Get("X-Riak-ClientId") != "me" {
		t.Errorf("get request %s id %q", r.URL.EscapedPath(), r.Header.Get("X-Riak-ClientId"))
	}
	if q := r.URL.Query(); q.Get("r") != "one" || q.Get("pr") != "1" || q.Get("notfound_ok") != "false" || q.Get("basic_quorum") != "true" || q.Get("timeout") != "1500" {
		t.Errorf("get query %v", q)
	}
	if !strings.HasPrefix(r.Header.Get("Accept"), "multipart/mixed") {
		t.Errorf("Accept %q", r.Header.Get("Accept"))
	}
	if !used {
		t.Error("the custom http.Client was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithTimeoutBoundsCalls(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only when the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := client.New(srv.URL, client.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(testCtx(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping against a silent server: %v, want DeadlineExceeded", err)
	}
}
