package main

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback port free for both TCP and UDP (memberlist
// uses both on its gossip port).
func freePort(t *testing.T) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return addr
	}
	t.Fatal("no free port")
	return ""
}

// pollAdmin runs an admin command until ok accepts its output or the
// deadline passes, and returns the last output.
func pollAdmin(t *testing.T, what string, deadline time.Time, ok func(out string, code int) bool, url string, args ...string) string {
	t.Helper()
	for {
		out, errs, code := admin(t, url, args...)
		if ok(out, code) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up; last riakgo admin %q: exit %d\nstdout: %s\nstderr: %s", what, args, code, out, errs)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
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
		url := fmt.Sprintf("%s/buckets/c/keys/k%d", n3, i)
		for {
			code, body, err := get(url)
			if err == nil && code == 200 && body == fmt.Sprintf("v%d", i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("get k%d through node 3: %d %q %v", i, code, body, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The preference lists span the three nodes.
	_, pl, _ := get(n3 + "/buckets/c/keys/k0/preflist")
	t.Logf("preflist of k0 through node 3: %s", pl)
}

// TestMembershipLayout: riak-admin's member-status table.
func TestMembershipLayout(t *testing.T) {
	rows := []memberRow{{Node: "riakgo@127.0.0.1", Status: "valid", RingPct: 33.3, PendingPct: 25}, {Node: "b", Status: "joining"}}
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
