package main

import (
	"fmt"
	"github.com/riakgo/riakgo/internal/testport"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/testwait"

	riakhttp "github.com/riakgo/riakgo/http"
)

// freePort returns a loopback port below the ephemeral range, free for both TCP and UDP (memberlist
// uses both on its gossip port).
func freePort(t *testing.T) string {
	t.Helper()
	return testport.Free(t)
}

// pollAdmin runs an admin command until ok accepts its output or the
// deadline passes, and returns the last output.
func pollAdmin(t *testing.T, what string, deadline time.Time, ok func(out string, code int) bool, url string, args ...string) string {
	t.Helper()
	var out string
	testwait.Until(t, time.Until(deadline), func() error {
		var errs string
		var code int
		out, errs, code = admin(t, url, args...)
		if ok(out, code) {
			return nil
		}
		return fmt.Errorf("%s: last riakgo admin %q: exit %d\nstdout: %s\nstderr: %s", what, args, code, out, errs)
	})
	return out
}

var memberRowRE = regexp.MustCompile(`(?m)^(\w+)\s+([0-9.]+)%\s+(--|[0-9.]+%)\s+'([^']+)'$`)

// TestThreeProcessCluster: three `riakgo start` processes joined with
// cluster join + plan + commit spread the ring in thirds, and a write
// through node 1 is readable through node 3.
func TestThreeProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	dir := t.TempDir()
	var nodes []*proc
	var gossip []string
	for i := 1; i <= 3; i++ {
		g := freePort(t)
		gossip = append(gossip, g)
		nodes = append(nodes, startNode(t, filepath.Join(dir, fmt.Sprintf("n%d", i)),
			"--name", fmt.Sprintf("riakgo%d@127.0.0.1", i), "--gossip", g, "--cluster", freePort(t)))
	}
	dump := func() {
		for i, n := range nodes {
			t.Logf("node %d stderr:\n%s", i+1, n.stderr())
		}
	}
	defer func() {
		if t.Failed() {
			dump()
		}
	}()
	n1, n2, n3 := nodes[0].url, nodes[1].url, nodes[2].url

	out := adminOK(t, n1, "member-status")
	if !strings.Contains(out, "valid     100.0%      --      'riakgo1@127.0.0.1'") || !strings.Contains(out, "Valid:1 / Leaving:0 / Exiting:0 / Joining:0 / Down:0") {
		t.Fatalf("single-node member-status:\n%s", out)
	}
	if out := adminOK(t, n2, "cluster", "join", gossip[0]); !strings.Contains(out, "Success: staged join request for 'riakgo2@127.0.0.1' to '"+gossip[0]+"'") {
		t.Fatalf("join output: %s", out)
	}
	adminOK(t, n3, "cluster", "join", gossip[0])
	// A node that already joined cannot join again.
	adminFails(t, n2, "cluster", "join", gossip[0])

	deadline := time.Now().Add(60 * time.Second)
	plan := pollAdmin(t, "plan with both joins", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "join           'riakgo2@127.0.0.1'") && strings.Contains(out, "join           'riakgo3@127.0.0.1'")
	}, n1, "cluster", "plan")
	t.Logf("cluster plan:\n%s", plan)
	if !strings.Contains(plan, "Transfers resulting from cluster changes:") {
		t.Fatalf("plan without transfers:\n%s", plan)
	}
	// Commit through node 3, which forwards to the claimant (node 1).
	pollAdmin(t, "commit", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "Cluster changes committed")
	}, n3, "cluster", "commit")

	status := pollAdmin(t, "3 valid members with a third of the ring each", deadline, func(out string, code int) bool {
		if code != 0 {
			return false
		}
		rows := memberRowRE.FindAllStringSubmatch(out, -1)
		if len(rows) != 3 {
			return false
		}
		for _, r := range rows {
			pct, _ := strconv.ParseFloat(r[2], 64)
			if r[1] != "valid" || r[3] != "--" || pct < 30 || pct > 37 {
				return false
			}
		}
		return strings.Contains(out, "Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
	}, n1, "member-status")
	t.Logf("member-status:\n%s", status)
	// Nothing is staged any more: plan and commit fail with riak-admin's
	// messages and a non-zero exit.
	if out := adminFails(t, n2, "cluster", "plan"); !strings.Contains(out, "There are no staged changes") && !strings.Contains(out, "Cannot plan until cluster state has converged") {
		t.Errorf("plan with nothing staged: %s", out)
	}
	adminFails(t, n1, "cluster", "commit")
	rs := adminOK(t, n1, "ring-status")
	if !strings.Contains(rs, "Claimant:  'riakgo1@127.0.0.1'") || !strings.Contains(rs, "All nodes are up and reachable") {
		t.Errorf("ring-status:\n%s", rs)
	}

	// Every node routes by the new ring: write through node 1, read
	// through node 3 (retrying while node 3 may still hold the old ring).
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("%s/buckets/c/keys/k%d", n1, i)
		if code, err := put(k, fmt.Sprintf("v%d", i)); err != nil || code != 204 {
			t.Fatalf("put k%d through node 1: %d %v", i, code, err)
		}
	}
	for i := 0; i < 20; i++ {
		url, want := fmt.Sprintf("%s/buckets/c/keys/k%d", n3, i), fmt.Sprintf("v%d", i)
		testwait.Until(t, time.Until(deadline), func() error {
			code, body, err := get(url)
			if err == nil && code == 200 && body == want {
				return nil
			}
			return fmt.Errorf("get k%d through node 3: %d %q %v", i, code, body, err)
		})
	}
	// The preference lists span the three nodes.
	_, pl, _ := get(n3 + "/buckets/c/keys/k0/preflist")
	t.Logf("preflist of k0 through node 3: %s", pl)
}

// TestMembershipLayout: riak-admin's member-status table.
func TestMembershipLayout(t *testing.T) {
	rows := []riakhttp.MemberJSON{{Node: "riakgo@127.0.0.1", Status: "valid", RingPct: 33.3, PendingPct: 25}, {Node: "b", Status: "joining"}}
	var b strings.Builder
	writeMembership(&b, rows, false)
	want := `================================= Membership ==================================
Status     Ring    Pending    Node
-------------------------------------------------------------------------------
valid      33.3%      --      'riakgo@127.0.0.1'
joining     0.0%      --      'b'
-------------------------------------------------------------------------------
Valid:1 / Leaving:0 / Exiting:0 / Joining:1 / Down:0
`
	if b.String() != want {
		t.Errorf("member-status:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeMembership(&b, rows[:1], true)
	if !strings.Contains(b.String(), "valid      33.3%     25.0%    'riakgo@127.0.0.1'\n") {
		t.Errorf("with pending:\n%s", b.String())
	}
	if n := len(banner("Membership", '=')); n != 79 {
		t.Errorf("banner is %d columns", n)
	}
}

// formCluster starts three processes and joins them; it returns their
// processes, gossip and cluster addresses and data directories.
func formCluster(t *testing.T, extra ...string) (nodes []*proc, gossip, cluster, dirs []string) {
	t.Helper()
	dir := t.TempDir()
	for i := 1; i <= 3; i++ {
		g, c := freePort(t), freePort(t)
		d := filepath.Join(dir, fmt.Sprintf("n%d", i))
		gossip, cluster, dirs = append(gossip, g), append(cluster, c), append(dirs, d)
		args := append([]string{"--name", fmt.Sprintf("riakgo%d@127.0.0.1", i), "--gossip", g, "--cluster", c}, extra...)
		nodes = append(nodes, startNode(t, d, args...))
	}
	adminOK(t, nodes[1].url, "cluster", "join", gossip[0])
	adminOK(t, nodes[2].url, "cluster", "join", gossip[0])
	deadline := time.Now().Add(60 * time.Second)
	pollAdmin(t, "plan with both joins", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "'riakgo2@127.0.0.1'") && strings.Contains(out, "'riakgo3@127.0.0.1'")
	}, nodes[0].url, "cluster", "plan")
	pollAdmin(t, "commit", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "Cluster changes committed")
	}, nodes[0].url, "cluster", "commit")
	// Every node must see the three valid members with nothing pending,
	// not only the first: a node that has not learned of the commit yet
	// routes by the ring it had (a read through it right after could miss
	// a write the others placed by the new ring).
	for _, n := range nodes {
		pollAdmin(t, "3 valid members", deadline, func(out string, code int) bool {
			rows := memberRowRE.FindAllStringSubmatch(out, -1)
			if code != 0 || len(rows) != 3 {
				return false
			}
			for _, r := range rows {
				if r[1] != "valid" || r[3] != "--" {
					return false
				}
			}
			return true
		}, n.url, "member-status")
	}
	return nodes, gossip, cluster, dirs
}

// TestKillOneNodeUnderLoad: under a steady write load at N=3, W=2, a
// SIGKILLed node costs no client-visible error once failure detection has
// seen it (fallbacks take its writes), every acknowledged write reads at
// R=2 afterwards, and PW=3 answers 503 PW-value unsatisfied until the node
// restarts.
func TestKillOneNodeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, gossip, cluster, dirs := formCluster(t)
	defer func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %d stderr:\n%s", i+1, n.stderr())
			}
		}
	}()
	n1, n2 := nodes[0].url, nodes[1].url
	acked := map[string]string{}
	write := func(phase string, n int) (errs int) {
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%s-%d", phase, i)
			base := n1
			if i%2 == 1 {
				base = n2
			}
			code, err := put(base+"/buckets/load/keys/"+k+"?w=2", "v-"+k)
			if err != nil || code != 204 {
				errs++
				continue
			}
			acked[k] = "v-" + k
		}
		return errs
	}
	if e := write("before", 100); e != 0 {
		t.Fatalf("%d errors with every node up", e)
	}
	nodes[2].cmd.Process.Kill()
	nodes[2].cmd.Wait()
	during := write("detecting", 50) // errors are possible until the failure is detected
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range []string{n1, n2} { // both nodes the writers use must have seen it
		pollAdmin(t, "node 3 seen down", deadline, func(out string, code int) bool {
			return code == 0 && strings.Contains(out, "riakgo3@127.0.0.1") && !strings.Contains(out, "All nodes are up and reachable")
		}, n, "ring-status")
	}
	if e := write("after", 200); e != 0 {
		t.Fatalf("%d client-visible errors after failure detection (fallbacks should take the writes)", e)
	}
	t.Logf("%d writes acknowledged, %d errors while the failure was being detected", len(acked), during)
	for k, v := range acked {
		code, body, err := get(n1 + "/buckets/load/keys/" + k + "?r=2")
		if err != nil || code != 200 || body != v {
			t.Fatalf("acknowledged write %s at R=2: %d %q %v", k, code, body, err)
		}
	}
	// PW=3 needs every primary: refused while node 3 is down (for a key
	// with a primary there), accepted once it is back.
	var pwKey string
	for i := 0; i < 50 && pwKey == ""; i++ {
		k := fmt.Sprintf("pw-%d", i)
		req, _ := http.NewRequest("PUT", n1+"/buckets/load/keys/"+k+"?pw=3", strings.NewReader("x"))
		req.Header.Set("Content-Type", "text/plain")
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 {
			if !strings.HasPrefix(string(b), "PW-value unsatisfied: ") {
				t.Fatalf("PW=3 with a node down: 503 %q", b)
			}
			pwKey = k
		}
	}
	if pwKey == "" {
		t.Fatal("no PW=3 write was refused with a node down")
	}
	nodes[2] = startNode(t, dirs[2], "--name", "riakgo3@127.0.0.1", "--gossip", gossip[2], "--cluster", cluster[2])
	pollAdmin(t, "node 3 back", time.Now().Add(60*time.Second), func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "All nodes are up and reachable")
	}, n1, "ring-status")
	testwait.Until(t, 60*time.Second, func() error {
		code, err := put(n1+"/buckets/load/keys/"+pwKey+"?pw=3", "y")
		if err == nil && code == 204 {
			return nil
		}
		return fmt.Errorf("PW=3 after node 3 restarted: %d %v", code, err)
	})
}
