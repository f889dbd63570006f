package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
	"github.com/riakgo/riakgo/internal/testwait"
)

// These tests run the real binary: they build riakgo once, start it on a
// loopback port with a temporary data directory, and kill it with SIGKILL
// or stop it with SIGTERM.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "riakgo-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "riakgo")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build riakgo:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd   *exec.Cmd
	url   string
	https string // the HTTPS address, if it serves one
	logs  *bytes.Buffer
	mu    *sync.Mutex
}

// startNode starts `riakgo start` on a free port and waits for its
// listening line (deadline, no sleeps).
func startNode(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"start", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--pb", "127.0.0.1:0", "--cluster", "127.0.0.1:0",
		"--gossip", "127.0.0.1:0", "--log-level", "warn"}, extra...)
	cmd := exec.Command(binPath, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{p.mu, p.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			cmd.Wait()
			t.Fatalf("riakgo exited before listening:\n%s", p.stderr())
		}
		f := strings.Fields(l[strings.Index(l, "listening on ")+len("listening on "):])
		p.url = f[0]
		if _, h, ok := strings.Cut(l, "https "); ok {
			if h, _, _ = strings.Cut(h, ","); h != "off" {
				p.https = h
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("riakgo did not start in 30s:\n%s", p.stderr())
	}
	return p
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

var httpc = &http.Client{Timeout: 10 * time.Second}

func put(url, body string) (int, error) {
	req, _ := http.NewRequest("PUT", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func get(url string) (int, string, error) {
	resp, err := httpc.Get(url)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), err
}

// TestKillNineKeepsAcknowledgedWrites: writers PUT keys concurrently while
// the node is SIGKILLed mid-stream; after a restart on the same data
// directory every write that was acknowledged (204) is readable.
func TestKillNineKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	p := startNode(t, dir)
	var mu sync.Mutex
	acked := map[string]string{}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := client.New(p.url)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				v := fmt.Sprintf("value of %s", k)
				_, err := c.Put(ctx, client.Loc{Bucket: "crash", Key: k}, client.Content{Value: []byte(v), ContentType: "text/plain"}, "", nil)
				if err != nil {
					return // the node is gone
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
			}
		}(w)
	}
	// Let a few hundred writes be acknowledged, then kill without warning.
	testwait.Until(t, 30*time.Second, func() error {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 500 {
			return nil
		}
		return fmt.Errorf("only %d of 500 writes acknowledged", n)
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	cancel()
	wg.Wait()

	p2 := startNode(t, dir)
	c2, err := client.New(p2.url)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))
	for k, v := range acked {
		o, err := c2.Get(context.Background(), client.Loc{Bucket: "crash", Key: k}, nil)
		if err != nil || len(o.Siblings) != 1 || string(o.Siblings[0].Value) != v {
			t.Fatalf("acknowledged write %s lost after SIGKILL: %+v %v", k, o, err)
		}
	}
}

// TestSigtermShutsDownCleanly: SIGTERM stops the node with exit status 0
// and the data is there after a restart.
func TestSigtermShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	p := startNode(t, dir)
	if code, err := put(p.url+"/buckets/b/keys/k", "v1"); err != nil || code != 204 {
		t.Fatalf("put: %d %v", code, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr())
	}
	p2 := startNode(t, dir)
	if code, body, _ := get(p2.url + "/buckets/b/keys/k"); code != 200 || body != "v1" {
		t.Fatalf("after restart: %d %q", code, body)
	}
}

// TestStartRejectsBadConfig: bad flags give a clear message and exit 2.
func TestStartRejectsBadConfig(t *testing.T) {
	for _, args := range [][]string{
		{"start", "--ring-size", "63"},
		{"start", "--http", "nonsense"},
		{"start", "--delete-mode", "soon"},
		{"start", "--bogus"},
	} {
		out, err := exec.Command(binPath, append(args, "--data-dir", t.TempDir())...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want 2; output %s", args, err, out)
		}
		if len(out) == 0 {
			t.Errorf("%v: no message", args)
		}
	}
}

// TestRingSizeIsFixed: a data directory remembers its ring size.
func TestRingSizeIsFixed(t *testing.T) {
	dir := t.TempDir()
	p := startNode(t, dir, "--ring-size", "16")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	out, err := exec.Command(binPath, "start", "--data-dir", dir, "--http", "127.0.0.1:0", "--pb", "off", "--ring-size", "64").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ring-size 16") {
		t.Fatalf("restart with another ring size: err %v, output %s", err, out)
	}
}

// TestEnvAndConfigFile: RIAKGO_* variables and a config file are honoured,
// flags win over both.
func TestEnvAndConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "riakgo.conf")
	os.WriteFile(conf, []byte("# test\nring_size = 8\nhttp = 127.0.0.1:0\npb = 127.0.0.1:0\ncluster = 127.0.0.1:0\ngossip = 127.0.0.1:0\n"), 0o644)
	cmd := exec.Command(binPath, "start", "--config", conf, "--data-dir", filepath.Join(dir, "d"))
	cmd.Env = append(os.Environ(), "RIAKGO_NAME=envnode@127.0.0.1")
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, &out}
	cmd.Stderr = lockedWriter{&mu, &out}
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var url string
	testwait.Until(t, 30*time.Second, func() error {
		o := output()
		i := strings.Index(o, "listening on ")
		if i < 0 {
			return fmt.Errorf("did not start: %s", o)
		}
		url = strings.Fields(o[i+len("listening on "):])[0]
		return nil
	})
	_, body, err := get(url + "/buckets/b/keys/k/preflist")
	if err != nil || !strings.Contains(body, "envnode@127.0.0.1") {
		t.Fatalf("preflist %q %v: RIAKGO_NAME not applied", body, err)
	}
}
