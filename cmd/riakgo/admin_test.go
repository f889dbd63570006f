package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// `riakgo admin bucket-type …` run as the real binary against a node.

// admin runs `riakgo admin --url URL args…` and returns stdout, stderr and
// the exit code.
func admin(t *testing.T, url string, args ...string) (string, string, int) {
	t.Helper()
	var argv []string
	if url != "" {
		argv = append(argv, "admin", "--url", url)
	} else {
		argv = append(argv, "admin")
	}
	cmd := exec.Command(binPath, append(argv, args...)...)
	cmd.Env = append(os.Environ(), "RIAKGO_URL=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run riakgo admin %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// adminOK runs a command that must succeed and returns its stdout.
func adminOK(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errs, code := admin(t, url, args...)
	if code != 0 {
		t.Fatalf("riakgo admin %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

// adminFails runs a command that must fail with a message and returns its
// output (stdout + stderr).
func adminFails(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errs, code := admin(t, url, args...)
	if code == 0 {
		t.Errorf("riakgo admin %q: exit 0, want a failure\nstdout: %s\nstderr: %s", args, out, errs)
	}
	if strings.TrimSpace(out+errs) == "" {
		t.Errorf("riakgo admin %q: exit %d without a message", args, code)
	}
	return out + errs
}

// statusProps parses `bucket-type status` output: the first line, then
// "prop: value" lines after an optional blank line.
func statusProps(t *testing.T, out string) (string, map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	props := map[string]string{}
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, ": ")
		if !ok || k == "" {
			t.Fatalf("status line %q is not `prop: value`; output:\n%s", l, out)
		}
		props[k] = v
	}
	return lines[0], props
}

func TestAdminBucketTypeCLI(t *testing.T) {
	dir := t.TempDir()
	p := startNode(t, dir)
	u := p.url

	if out := adminOK(t, u, "bucket-type", "list"); out != "default (active)\npg (active)\n" {
		t.Errorf("list on a fresh node: %q", out)
	}
	if out := adminOK(t, u, "bucket-type", "create", "maps", `{"props":{"datatype":"map"}}`); out != "maps created\n" {
		t.Errorf("create: %q", out)
	}
	first, props := statusProps(t, adminOK(t, u, "bucket-type", "status", "maps"))
	if first != "maps has been created and may be activated" {
		t.Errorf("status first line %q", first)
	}
	for k, v := range map[string]string{"datatype": "map", "allow_mult": "true", "n_val": "3", "active": "false"} {
		if props[k] != v {
			t.Errorf("status after create: %s = %q, want %q (all: %v)", k, props[k], v, props)
		}
	}
	if out := adminOK(t, u, "bucket-type", "list"); out != "default (active)\nmaps (not active)\npg (active)\n" {
		t.Errorf("list after create: %q", out)
	}
	if out := adminOK(t, u, "bucket-type", "activate", "maps"); out != "maps has been activated\n" {
		t.Errorf("activate: %q", out)
	}
	first, props = statusProps(t, adminOK(t, u, "bucket-type", "status", "maps"))
	if first != "maps is active" || props["active"] != "true" {
		t.Errorf("status after activate: %q %v", first, props)
	}
	if out := adminOK(t, u, "bucket-type", "list"); out != "default (active)\nmaps (active)\npg (active)\n" {
		t.Errorf("list after activate: %q", out)
	}
	if out := adminOK(t, u, "bucket-type", "update", "maps", `{"props":{"n_val":5}}`); out != "maps updated\n" {
		t.Errorf("update: %q", out)
	}
	if _, props = statusProps(t, adminOK(t, u, "bucket-type", "status", "maps")); props["n_val"] != "5" || props["datatype"] != "map" {
		t.Errorf("status after update: %v, want n_val 5", props)
	}
	// The type is served over HTTP now.
	if code, body, err := get(u + "/types/maps/props"); err != nil || code != 200 || !strings.Contains(body, `"n_val":5`) {
		t.Errorf("GET /types/maps/props: %d %q %v", code, body, err)
	}
	// An empty props argument creates with the defaults.
	adminOK(t, u, "bucket-type", "create", "plain", "")
	adminOK(t, u, "bucket-type", "create", "plain2")

	// Failures exit non-zero with a message.
	out := adminFails(t, u, "bucket-type", "create", "bad", `{"props":`)
	if !strings.Contains(out, "invalid json") {
		t.Errorf("create with invalid JSON: %q", out)
	}
	out = adminFails(t, u, "bucket-type", "create", "bad", `{"props":{"datatype":"nope"}}`)
	if !strings.Contains(out, "Error creating bucket type bad") || !strings.Contains(out, "datatype: nope not supported for bucket datatype property") {
		t.Errorf("create with a bad datatype: %q", out)
	}
	out = adminFails(t, u, "bucket-type", "create", "bad", `{"n_val":3}`)
	if !strings.Contains(out, "no props field found in json") {
		t.Errorf("create without props: %q", out)
	}
	out = adminFails(t, u, "bucket-type", "create", "maps", `{"props":{"datatype":"map"}}`)
	if !strings.Contains(out, "Error creating bucket type maps") {
		t.Errorf("re-create after activation: %q", out)
	}
	out = adminFails(t, u, "bucket-type", "activate", "ghost")
	if !strings.Contains(out, "ghost is not an existing bucket type") {
		t.Errorf("activate an unknown type: %q", out)
	}
	out = adminFails(t, u, "bucket-type", "update", "maps", `{"props":{"datatype":"set"}}`)
	if !strings.Contains(out, "Cannot update datatype on existing bucket") {
		t.Errorf("update datatype: %q", out)
	}
	out = adminFails(t, u, "bucket-type", "update", "plain", `{"props":{"n_val":2}}`)
	if !strings.Contains(out, "Error updating bucket type plain") {
		t.Errorf("update an inactive type: %q", out)
	}
	stdout, stderr, code := admin(t, u, "bucket-type", "status", "ghost")
	if code == 0 || stdout != "ghost is not an existing bucket type\n" || stderr != "" {
		t.Errorf("status of an unknown type: exit %d, stdout %q, stderr %q; want only riak-admin's line", code, stdout, stderr)
	}
	if _, _, code := admin(t, u, "bucket-type", "bogus"); code != 2 {
		t.Errorf("unknown bucket-type verb: exit %d, want 2", code)
	}
	if _, _, code := admin(t, u, "bucket-type", "activate"); code != 2 {
		t.Errorf("activate without a name: exit %d, want 2", code)
	}

	// Types survive a restart of the node.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr())
	}
	p2 := startNode(t, dir)
	if out := adminOK(t, p2.url, "bucket-type", "list"); out != "default (active)\nmaps (active)\npg (active)\nplain (not active)\nplain2 (not active)\n" {
		t.Errorf("list after restart: %q", out)
	}
	if _, props = statusProps(t, adminOK(t, p2.url, "bucket-type", "status", "maps")); props["n_val"] != "5" {
		t.Errorf("status after restart: %v", props)
	}
}

func TestAdminCLIUsageAndUnreachable(t *testing.T) {
	out, errs, code := admin(t, "")
	if code != 2 || !strings.Contains(errs, "usage: riakgo admin") || out != "" {
		t.Errorf("riakgo admin: exit %d, stdout %q, stderr %q; want usage and exit 2", code, out, errs)
	}
	if _, _, code := admin(t, "", "frobnicate"); code != 2 {
		t.Errorf("unknown admin command: exit %d, want 2", code)
	}
	if _, _, code := admin(t, "", "bucket-type"); code != 2 {
		t.Errorf("bucket-type without a verb: exit %d, want 2", code)
	}

	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{{"bucket-type", "list"}, {"bucket-type", "status", "x"}, {"bucket-type", "create", "x"}} {
		out := adminFails(t, "http://"+addr, args...)
		if !strings.Contains(out, "cannot reach the node") {
			t.Errorf("%v against a closed port: %q", args, out)
		}
	}
}

// TestAdminClusterJoinSelf: a node told to join itself (by its name or its
// own gossip address) refuses with riak-admin's message, which the CLI
// chooses by the answer's reason word (self_join), not by its text.
func TestAdminClusterJoinSelf(t *testing.T) {
	g := freePort(t)
	p := startNode(t, t.TempDir(), "--name", "selfjoin@127.0.0.1", "--gossip", g)
	for _, seed := range []string{"selfjoin@127.0.0.1", g} {
		out, errs, code := admin(t, p.url, "cluster", "join", seed)
		if code != 1 || out != "" || errs != "Failed: This node cannot join itself in a cluster\n" {
			t.Errorf("cluster join %s: exit %d, stdout %q, stderr %q", seed, code, out, errs)
		}
	}
}
