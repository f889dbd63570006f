package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/testwait"
)

// pgCLI runs `riakgo pg --url URL args…` and returns stdout, stderr and
// the exit code.
func pgCLI(t *testing.T, url string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"pg", "--url", url}, args...)...)
	cmd.Env = append(os.Environ(), "RIAKGO_URL=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("run riakgo pg %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

func pgOK(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errs, code := pgCLI(t, url, args...)
	if code != 0 {
		t.Fatalf("riakgo pg %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

type cliMember struct {
	Node      string `json:"node"`
	ID        string `json:"id"`
	Count     int    `json:"count"`
	Meta      string `json:"meta"`
	Connected bool   `json:"connected"`
}

// pgMemberIDs lists the ids a `pg members` run printed.
func pgMemberIDs(t *testing.T, out string) []string {
	t.Helper()
	var ms []cliMember
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("members output %q: %v", out, err)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestPGCLI(t *testing.T) {
	n := startNode(t, t.TempDir())
	if out := pgOK(t, n.url, "join", "web", "fe", "a", "--count", "2", "--meta", "10.0.0.1:80"); !strings.Contains(out, `"count":2`) {
		t.Fatalf("join: %s", out)
	}
	pgOK(t, n.url, "join", "web", "fe", "b", "--ttl", "1m")
	var ms []cliMember
	if err := json.Unmarshal([]byte(pgOK(t, n.url, "members", "web", "fe")), &ms); err != nil || len(ms) != 2 ||
		ms[0].ID != "a" || ms[0].Count != 2 || ms[0].Meta != "10.0.0.1:80" || !ms[0].Connected {
		t.Fatalf("members: %+v %v", ms, err)
	}
	if out := pgOK(t, n.url, "pick", "web", "fe", "--strategy", "oldest"); !strings.Contains(out, `"id":"a"`) {
		t.Fatalf("pick: %s", out)
	}
	if out := pgOK(t, n.url, "groups", "web"); strings.TrimSpace(out) != `["fe"]` {
		t.Fatalf("groups: %s", out)
	}
	pgOK(t, n.url, "heartbeat", "b")
	pgOK(t, n.url, "leave", "web", "fe", "a", "--count", "1")
	pgOK(t, n.url, "leave-all", "a")
	if got := pgMemberIDs(t, pgOK(t, n.url, "members", "web", "fe", "--filter", "local")); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("members after the leaves: %v", got)
	}
	if out := pgOK(t, n.url, "stats"); !strings.Contains(out, `"pg_joins":2`) {
		t.Fatalf("stats: %s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"join", "web", "fe"}, 2, "expected 3 arguments"},
		{[]string{"members", "web", "fe", "--filter", "odd"}, 1, "unknown filter"},
		{[]string{"pick", "web", "empty"}, 1, "no member to pick"},
		{[]string{"leave", "web", "fe", "nobody"}, 1, "not in group"},
		{[]string{"frobnicate"}, 2, "unknown verb"},
	} {
		out, errs, code := pgCLI(t, n.url, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.msg) {
			t.Errorf("riakgo pg %q: exit %d %q, want %d with %q", tc.args, code, out+errs, tc.code, tc.msg)
		}
	}
}

// Real processes: members of a SIGKILLed node are hidden from connected
// reads once the others see it down, still listed by "all", and gone from
// every node once it restarts (its new incarnation reaches them through
// the gossiped cluster state).
func TestPGThreeProcessKillAndRestart(t *testing.T) {
	nodes, gossip, cluster, dirs := formCluster(t)
	defer func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %d stderr:\n%s", i+1, n.stderr())
			}
		}
	}()
	pgOK(t, nodes[0].url, "join", "svc", "api", "a")
	pgOK(t, nodes[2].url, "join", "svc", "api", "c", "--count", "2")
	// members lists the ids node i reads with filter, comma-separated.
	members := func(i int, filter string) (string, error) {
		out, errs, code := pgCLI(t, nodes[i].url, "members", "svc", "api", "--filter", filter)
		if code != 0 {
			return "", fmt.Errorf("members through node %d: exit %d %s", i+1, code, errs)
		}
		return strings.Join(pgMemberIDs(t, out), ","), nil
	}
	expect := func(i int, filter, want string) {
		t.Helper()
		testwait.Until(t, 60*time.Second, func() error {
			got, err := members(i, filter)
			if err == nil && got == want {
				return nil
			}
			return fmt.Errorf("node %d, %s members: %q %v, want %q", i+1, filter, got, err, want)
		})
	}
	for i := range nodes {
		expect(i, "all", "a,c")
	}
	nodes[2].cmd.Process.Kill()
	nodes[2].cmd.Wait()
	expect(0, "connected", "a")
	expect(1, "connected", "a")
	expect(0, "all", "a,c")
	nodes[2] = startNode(t, dirs[2], "--name", "riakgo3@127.0.0.1", "--gossip", gossip[2], "--cluster", cluster[2])
	for i := range nodes {
		expect(i, "all", "a")
	}
	out := pgOK(t, nodes[2].url, "stats")
	if !strings.Contains(out, `"incarnation":2`) {
		t.Fatalf("restarted node's incarnation: %s", out)
	}
}
