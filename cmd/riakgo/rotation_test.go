package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/internal/wire"
)

// TestSecretRotationRealProcesses rotates the cluster secret of three
// running processes without a restart (SIGHUP after each step of
// docs/security.md): the cluster keeps serving, a node that holds only the
// new secret joins afterwards, and one that holds only the old one cannot.
func TestSecretRotationRealProcesses(t *testing.T) {
	dir := t.TempDir()
	old, next := secret.Generate(), secret.Generate()
	sf := filepath.Join(dir, "secret")
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(sf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(old)
	nodes, gossip, cluster, _ := formCluster(t, "--cluster-secret-file", sf)
	for step, lines := range [][]string{{old, next}, {next, old}, {next}} {
		write(lines...)
		for _, n := range nodes {
			if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		key := nodes[0].url + "/buckets/rot/keys/k" + string(rune('0'+step))
		if code, err := put(key, "v"); err != nil || code != 204 {
			t.Fatalf("step %d: put: %d %v", step, code, err)
		}
		if code, body, err := get(strings.Replace(key, nodes[0].url, nodes[2].url, 1)); err != nil || code != 200 || body != "v" {
			t.Fatalf("step %d: read through another node: %d %q %v", step, code, body, err)
		}
	}
	// Wait until every node has applied the last step: a peer with only
	// the old secret is refused by each (a probe with no side effect). Each
	// attempt is a new peer: open connections survive a rotation (the
	// secret is checked when a connection opens), so a probe connected
	// before the node reread its file would be answered on that connection
	// however long the test waited.
	oldSet, _ := secret.New(old)
	for i, addr := range cluster {
		testwait.For(t, 30*time.Second, "node refuses the retired secret", func() bool {
			cfg := tcp.DefaultConfig()
			cfg.Node, cfg.ListenAddr, cfg.Secret, cfg.Logger = "probe", "", oldSet, testlog.New(t)
			cfg.Resolve = func(transport.NodeID) (string, bool) { return addr, true }
			tr, err := tcp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return errors.Is(tr.Call(ctx, transport.NodeID(fmt.Sprintf("riakgo%d@127.0.0.1", i+1)), wire.MsgPing, nil, nil), wire.ErrAuth)
		})
	}
	stale := startNode(t, filepath.Join(dir, "stale"), "--name", "stale@127.0.0.1", "--gossip", freePort(t), "--cluster", freePort(t),
		"--cluster-secret-file", secretFile(t, dir, old))
	if out := adminFails(t, stale.url, "cluster", "join", gossip[0]); !strings.Contains(out, "is not reachable") {
		t.Errorf("join with the retired secret: %s", out)
	}
	fresh := startNode(t, filepath.Join(dir, "fresh"), "--name", "fresh@127.0.0.1", "--gossip", freePort(t), "--cluster", freePort(t),
		"--cluster-secret-file", secretFile(t, dir, next))
	adminOK(t, fresh.url, "cluster", "join", gossip[0])
}
