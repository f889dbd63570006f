package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/testwait"
)

// formClusterN starts n processes and joins them to the first as
// docs/cluster.md says: cluster join on each, then plan and commit at
// once (plan waits for the claimant to see the joins).
func formClusterN(t *testing.T, n int) (nodes []*proc, gossip []string) {
	t.Helper()
	dir := t.TempDir()
	for i := 1; i <= n; i++ {
		g := freePort(t)
		gossip = append(gossip, g)
		nodes = append(nodes, startNode(t, filepath.Join(dir, fmt.Sprintf("n%d", i)),
			"--name", fmt.Sprintf("riakgo%d@127.0.0.1", i), "--gossip", g, "--cluster", freePort(t)))
	}
	for i := 1; i < n; i++ {
		adminOK(t, nodes[i].url, "cluster", "join", gossip[0])
	}
	// No polling: plan right after the joins waits until the claimant
	// has seen them.
	plan := adminOK(t, nodes[n-1].url, "cluster", "plan")
	for i := 2; i <= n; i++ {
		if !strings.Contains(plan, fmt.Sprintf("join           'riakgo%d@127.0.0.1'", i)) {
			t.Fatalf("plan right after the joins lacks riakgo%d:\n%s", i, plan)
		}
	}
	adminOK(t, nodes[0].url, "cluster", "commit")
	// Every node, not only the first, must see the n members: a node that
	// has not yet learned of the last joiner leaves it out of what it asks
	// (bucket-type status lists the members it knows of).
	for _, nd := range nodes {
		waitValid(t, nd.url, n)
	}
	return nodes, gossip
}

// waitValid waits until member-status lists n valid members with nothing
// pending.
func waitValid(t *testing.T, url string, n int) {
	t.Helper()
	pollAdmin(t, fmt.Sprintf("%d valid members", n), time.Now().Add(120*time.Second), func(out string, code int) bool {
		rows := memberRowRE.FindAllStringSubmatch(out, -1)
		if code != 0 || len(rows) != n {
			return false
		}
		for _, r := range rows {
			if r[1] != "valid" || r[3] != "--" {
				return false
			}
		}
		return true
	}, url, "member-status")
}

func doReq(t *testing.T, method, u, ctype, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestFiveProcessClusterIsOneSystem: five `riakgo start` processes joined
// as docs/cluster.md says behave as one store through every node.
func TestFiveProcessClusterIsOneSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, gossip := formClusterN(t, 5)
	defer func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %d stderr:\n%s", i+1, n.stderr())
			}
		}
	}()

	// A bucket type created and activated through node 1 is usable
	// through node 5 as soon as activate returns.
	adminOK(t, nodes[0].url, "bucket-type", "create", "counters", `{"props":{"datatype":"counter"}}`)
	adminOK(t, nodes[0].url, "bucket-type", "activate", "counters")
	if code, body := doReq(t, "POST", nodes[4].url+"/types/counters/buckets/c/datatypes/first", "application/json", `{"increment":1}`, nil); code != 204 {
		t.Fatalf("increment through node 5 right after activate: %d %s", code, body)
	}
	st := adminOK(t, nodes[2].url, "bucket-type", "status", "counters")
	if !strings.Contains(st, "counters is active") || strings.Count(st, "riakgo") < 5 {
		t.Fatalf("bucket-type status through node 3:\n%s", st)
	}

	// allow_mult set through node 2; the same key written without a
	// vclock through all 5 nodes reads back as 5 siblings through each.
	if code, body := doReq(t, "PUT", nodes[1].url+"/buckets/cart/props", "application/json", `{"props":{"allow_mult":true}}`, nil); code != 204 {
		t.Fatalf("props through node 2: %d %s", code, body)
	}
	for i, n := range nodes {
		if code, body := doReq(t, "PUT", n.url+"/buckets/cart/keys/k", "text/plain", fmt.Sprint("v", i+1), nil); code != 204 {
			t.Fatalf("write through node %d: %d %s", i+1, code, body)
		}
	}
	for i, n := range nodes {
		code, body := doReq(t, "GET", n.url+"/buckets/cart/keys/k?r=all", "", "", nil)
		sibs := strings.Fields(strings.TrimPrefix(body, "Siblings:"))
		if code != 300 || len(sibs) != 5 {
			t.Fatalf("read through node %d: %d, %d siblings:\n%s", i+1, code, len(sibs), body)
		}
	}

	// A counter incremented 100 times through each node reads 500
	// through each node.
	var wg sync.WaitGroup
	errs := make(chan string, 500)
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				req, _ := http.NewRequest("POST", n.url+"/types/counters/buckets/c/datatypes/total", strings.NewReader(`{"increment":1}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := httpc.Do(req)
				if err != nil {
					errs <- fmt.Sprintf("node %d: %v", i+1, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 204 {
					errs <- fmt.Sprintf("node %d: %d %s", i+1, resp.StatusCode, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("increment: %s", e)
	}
	for i, n := range nodes {
		code, body := doReq(t, "GET", n.url+"/types/counters/buckets/c/datatypes/total?r=all", "", "", nil)
		var v struct{ Value int64 }
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Value != 500 {
			t.Fatalf("counter through node %d: %d %s", i+1, code, body)
		}
	}

	// 1,000 indexed keys paged 100 at a time through alternating nodes
	// come back each exactly once, in order.
	const keys = 1000
	for k := 0; k < keys; k++ {
		n := nodes[k%5]
		if code, body := doReq(t, "PUT", fmt.Sprintf("%s/buckets/idx/keys/k%04d", n.url, k), "text/plain", "x",
			map[string]string{"x-riak-index-grp_bin": "g"}); code != 204 {
			t.Fatalf("indexed write %d: %d %s", k, code, body)
		}
	}
	var got []string
	cont := ""
	for page := 0; page < 20; page++ {
		n := nodes[page%5]
		u := n.url + "/buckets/idx/index/grp_bin/g?max_results=100"
		if cont != "" {
			u += "&continuation=" + url.QueryEscape(cont)
		}
		code, body := doReq(t, "GET", u, "", "", nil)
		var res struct {
			Keys         []string `json:"keys"`
			Continuation string   `json:"continuation"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil {
			t.Fatalf("page %d through node %d: %d %s", page, page%5+1, code, body)
		}
		got = append(got, res.Keys...)
		if cont = res.Continuation; cont == "" {
			break
		}
	}
	if len(got) != keys {
		t.Fatalf("paging returned %d keys, want %d", len(got), keys)
	}
	for k, key := range got {
		if want := fmt.Sprintf("k%04d", k); key != want {
			t.Fatalf("key %d of the paged results is %s, want %s", k, key, want)
		}
	}

	// A node leaves and joins again.
	adminOK(t, nodes[4].url, "cluster", "leave")
	adminOK(t, nodes[0].url, "cluster", "plan")
	adminOK(t, nodes[0].url, "cluster", "commit")
	waitValid(t, nodes[0].url, 4)
	testwait.Until(t, 120*time.Second, func() error {
		_, errs, code := admin(t, nodes[4].url, "cluster", "join", gossip[0])
		if code != 0 {
			return fmt.Errorf("join again: %s", errs)
		}
		return nil
	})
	adminOK(t, nodes[0].url, "cluster", "plan")
	adminOK(t, nodes[0].url, "cluster", "commit")
	waitValid(t, nodes[0].url, 5)
	// It serves the cluster's data again.
	code, body := doReq(t, "GET", nodes[4].url+"/types/counters/buckets/c/datatypes/total", "", "", nil)
	if code != 200 || !strings.Contains(body, `"value":500`) {
		t.Fatalf("counter through the node that joined again: %d %s", code, body)
	}
}
