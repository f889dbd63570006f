package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
)

type pgEnv struct {
	*env
	pg *pg.Service
}

func newPGEnv(t *testing.T) *pgEnv {
	t.Helper()
	svc, clk := newService(t, 7)
	pg, err := pg.New(svc, pg.Config{Incarnation: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc, Options{PG: pg, Rand: lockedRand(8)}))
	t.Cleanup(srv.Close)
	return &pgEnv{env: &env{t: t, srv: srv, svc: svc, clk: clk}, pg: pg}
}

// call does a request and returns the status and body.
func (e *pgEnv) call(method, path string) (int, string) {
	e.t.Helper()
	req, err := nethttp.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *pgEnv) expect(method, path string, status int, contains ...string) string {
	e.t.Helper()
	got, body := e.call(method, path)
	if got != status {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, got, body, status)
	}
	for _, c := range contains {
		if !strings.Contains(body, c) {
			e.t.Fatalf("%s %s: body %s lacks %q", method, path, body, c)
		}
	}
	return body
}

func TestPGRoutes(t *testing.T) {
	e := newPGEnv(t)
	e.expect("POST", "/pg/web/frontends/join?id=a&count=2&meta=10.0.0.1%3A80", 200, `"count":2`)
	e.expect("POST", "/pg/web/frontends/join?id=b&ttl=30s", 200, `"count":1`)
	e.expect("POST", "/pg/web/backends/join?id=a", 200)
	body := e.expect("GET", "/pg/web/frontends", 200)
	var got struct {
		Members []pg.MemberInfo `json:"members"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Members) != 2 ||
		got.Members[0].ID != "a" || got.Members[0].Count != 2 || got.Members[0].Meta != "10.0.0.1:80" || !got.Members[0].Local {
		t.Fatalf("members: %s %v", body, err)
	}
	e.expect("GET", "/pg/web/frontends?filter=remote", 200, `"members":[]`)
	e.expect("GET", "/pg/web/frontends?filter=node&node=riakgo@127.0.0.1", 200, `"id":"a"`, `"id":"b"`)
	e.expect("GET", "/pg/web/frontends/pick?strategy=oldest", 200, `"id":"a"`)
	e.expect("GET", "/pg/web/frontends/pick?strategy=hash&key=user42", 200, `"id":`)
	e.expect("GET", "/pg/web", 200, `"groups":["backends","frontends"]`)
	e.expect("POST", "/pg-member/b/heartbeat", 200)
	e.expect("POST", "/pg/web/frontends/leave?id=a&count=1", 200, `"count":1`)
	e.expect("POST", "/pg-member/a/leave-all", 200, `"group":"backends"`, `"group":"frontends"`)
	e.expect("GET", "/pg/web", 200, `"groups":["frontends"]`)
	e.expect("GET", "/pg", 200, `"incarnation":1`, `"pg_joins":3`)
	// The lease of b lapses at the owner's tick.
	e.clk.Advance(31 * time.Second)
	e.pg.Tick(context.Background())
	e.expect("GET", "/pg/web", 200, `"groups":[]`)
}

func TestPGRouteErrors(t *testing.T) {
	e := newPGEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		msg          string
	}{
		{"POST", "/pg/web/g/join", 400, "member id"},
		{"POST", "/pg/web/g/join?id=a&count=x", 400, "count must be an integer"},
		{"POST", "/pg/web/g/join?id=a&count=0", 400, "count must be at least 1"},
		{"POST", "/pg/web/g/join?id=a&count=5000", 400, "count must be 1..1000"},
		{"POST", "/pg/web/g/join?id=a&ttl=soon", 400, "ttl must be a duration"},
		{"POST", "/pg/web/g/join?id=a&ttl=1ms", 400, "ttl must be at least"},
		{"POST", "/pg/web/g/join?id=a&lease=forever", 400, "lease must be"},
		{"POST", "/pg/web/g/join?id=a&lease=connection&ttl=5s", 400, "takes no ttl"},
		{"POST", "/pg/web/g*/join?id=a", 400, "does not allow patterns"},
		{"POST", "/pg/web/g/join?id=a&type=default", 400, "not a pg type"},
		{"POST", "/pg/web/g/join?id=a&type=nope", 404, "Unknown bucket type"},
		{"POST", "/pg/web/g/leave?id=a", 404, "not in group"},
		{"GET", "/pg/web/g?filter=odd", 400, "unknown filter"},
		{"GET", "/pg/web/g/pick?strategy=best", 400, "unknown pick strategy"},
		{"GET", "/pg/web/g/pick", 404, "no member to pick"},
		{"POST", "/pg-member/a/heartbeat", 404, "has no lease"},
		{"POST", "/pg-member/a/leave-all", 404, "in no group"},
		{"GET", "/pg/web/g/join?id=a", 405, ""},
		{"DELETE", "/pg/web/g", 405, ""},
		{"GET", "/pg/web/g/other", 404, ""},
		{"GET", "/pg-member/a", 404, ""},
	} {
		status, body := e.call(tc.method, tc.path)
		if status != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.msg)
		}
	}
}

// readLine reads one line of a streamed response.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return line
}

func TestPGWatchAndConnectionLease(t *testing.T) {
	e := newPGEnv(t)
	e.expect("POST", "/pg/web/g/join?id=a", 200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", e.srv.URL+"/pg/web/g?watch=true", nil)
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("watch: %d %s", resp.StatusCode, ct)
	}
	watch := bufio.NewReader(resp.Body)
	if l := readLine(t, watch); !strings.Contains(l, `"type":"snapshot"`) || !strings.Contains(l, `"id":"a"`) {
		t.Fatalf("snapshot: %s", l)
	}
	// A member held by a connection: joined while the request is open.
	lctx, lcancel := context.WithCancel(context.Background())
	lreq, _ := nethttp.NewRequestWithContext(lctx, "POST", e.srv.URL+"/pg/web/g/join?id=held&lease=connection", nil)
	lresp, err := nethttp.DefaultClient.Do(lreq)
	if err != nil {
		t.Fatal(err)
	}
	if l := readLine(t, bufio.NewReader(lresp.Body)); !strings.Contains(l, `"lease":"connection"`) {
		t.Fatalf("held join: %s", l)
	}
	if l := readLine(t, watch); !strings.Contains(l, `"type":"join"`) || !strings.Contains(l, `"id":"held"`) {
		t.Fatalf("join event: %s", l)
	}
	lcancel()
	lresp.Body.Close()
	if l := readLine(t, watch); !strings.Contains(l, `"type":"leave"`) || !strings.Contains(l, `"id":"held"`) {
		t.Fatalf("leave event: %s", l)
	}
	testwait.For(t, 5*time.Second, "the held member to leave", func() bool {
		_, body := e.call("GET", "/pg/web/g")
		return !strings.Contains(body, "held")
	})
	e.expect("GET", "/pg", 200, `"pg_watch_streams":1`)
}

// blockingLeave is a process-group service whose Leave waits for its
// context to end and reports how it ended.
type blockingLeave struct {
	ProcessGroups
	called chan struct{}
	ended  chan error
}

func (b *blockingLeave) Join(context.Context, kv.Key, string, pg.JoinOpts) (int, error) {
	return 1, nil
}

func (b *blockingLeave) Leave(ctx context.Context, _ kv.Key, _ string, _ int) (int, error) {
	close(b.called)
	<-ctx.Done()
	b.ended <- ctx.Err()
	return 0, ctx.Err()
}

// TestHeldJoinLeaveOnHandlerClock: when a held join's connection closes,
// the leave that follows is bounded by 30 s of the handler's clock (a
// manual clock here), not of the wall clock.
func TestHeldJoinLeaveOnHandlerClock(t *testing.T) {
	svc, clk := newService(t, 7)
	b := &blockingLeave{called: make(chan struct{}), ended: make(chan error, 1)}
	srv := httptest.NewServer(NewHandler(svc, Options{PG: b, Clock: clk, Rand: lockedRand(8)}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := nethttp.NewRequestWithContext(ctx, "POST", srv.URL+"/pg/web/g/join?id=held&lease=connection", nil)
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if l := readLine(t, bufio.NewReader(resp.Body)); !strings.Contains(l, `"lease":"connection"`) {
		t.Fatalf("held join: %s", l)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-b.called:
	case <-time.After(10 * time.Second): // a guard against a hang, not a timing assertion
		t.Fatal("no leave after the connection closed")
	}
	testwait.For(t, 5*time.Second, "the leave's deadline timer on the manual clock", func() bool { return clk.Pending() > 0 })
	select {
	case err := <-b.ended:
		t.Fatalf("leave ended before its clock moved: %v", err)
	default:
	}
	clk.Advance(30*time.Second - time.Nanosecond)
	select {
	case err := <-b.ended:
		t.Fatalf("leave ended before 30 s of the handler's clock: %v", err)
	default:
	}
	clk.Advance(time.Nanosecond)
	select {
	case err := <-b.ended:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("leave ended with %v, want DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leave still waiting after 30 s of the handler's clock")
	}
}
