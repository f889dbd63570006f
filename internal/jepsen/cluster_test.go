package jepsen

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/testport"
	"io"
	"net"
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
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/testwait"
)

// A cluster of real `riakgo start` processes for the tests of this
// package (see net_test.go for the network).

var binPath string

// binVersion is the built binary's `riakgo version` line, recorded with
// each run's result.
var binVersion string

var loopbackOnly = flag.Bool("jepsen.loopback", false, "run the real-process tests on loopback even where network namespaces are available")

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "riakgo-jepsen")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "riakgo")
	build := exec.Command("go", "build", "-o", binPath, "github.com/riakgo/riakgo/cmd/riakgo")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build riakgo:", err)
		os.Exit(1)
	}
	if out, err := exec.Command(binPath, "version").Output(); err == nil {
		binVersion = strings.TrimSpace(string(out))
	}
	// The binary knows its commit only when built with -buildvcs (off
	// in some environments): ask git too.
	if out, err := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
		binVersion += "; tree " + strings.TrimSpace(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one node's process.
type proc struct {
	i       int
	name    string
	args    []string
	logPath string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	stopped bool          // SIGSTOPped
}

// pcluster is a real-process cluster.
type pcluster struct {
	t     testing.TB
	net   network
	dir   string
	procs []*proc
	ports [][3]string // loopback: http, cluster, gossip ports per node
	extra []string
}

// newPCluster starts n processes (not joined yet). extra are more flags
// for every node.
func newPCluster(t testing.TB, n int, extra ...string) *pcluster {
	t.Helper()
	c := &pcluster{t: t, net: newNetwork(t, n, *loopbackOnly), dir: t.TempDir(), extra: extra}
	t.Logf("network: %s", c.net)
	t.Cleanup(c.close)
	// The nodes listen beyond loopback (a namespace each): they share a
	// cluster secret, and the harness administers them from the host,
	// which is another machine to them (admin-open).
	sf := filepath.Join(c.dir, "secret")
	if err := os.WriteFile(sf, []byte(secret.Generate()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	extra = append([]string{"--cluster-secret-file", sf, "--admin-open", "true"}, extra...)
	c.extra = extra
	for i := 0; i < n; i++ {
		p := &proc{i: i, name: fmt.Sprintf("riakgo%d@%s", i+1, c.net.host(i)), logPath: filepath.Join(c.dir, fmt.Sprintf("n%d.log", i+1))}
		if _, ok := c.net.(loopback); ok {
			c.ports = append(c.ports, [3]string{freePort(t), freePort(t), freePort(t)})
		} else {
			c.ports = append(c.ports, [3]string{"8098", "8099", "7946"})
		}
		p.args = append([]string{binPath, "start", "--name", p.name, "--data-dir", filepath.Join(c.dir, fmt.Sprintf("n%d", i+1)),
			"--http", c.addr(i, 0), "--cluster", c.addr(i, 1), "--gossip", c.addr(i, 2), "--pb", "off",
			"--log-level", "info"}, extra...)
		c.procs = append(c.procs, p)
		c.start(i)
	}
	for i := range c.procs {
		c.waitUp(i, 60*time.Second)
	}
	return c
}

// freePort returns a loopback port free for TCP and UDP.
func freePort(t testing.TB) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(testport.Free(t))
	return port
}

// addr is node i's HTTP (0), internode (1) or gossip (2) address.
func (c *pcluster) addr(i, which int) string {
	return net.JoinHostPort(c.net.host(i), c.ports[i][which])
}

// URL is node i's HTTP base URL.
func (c *pcluster) URL(i int) string { return "http://" + c.addr(i, 0) }

// Client returns a client of node i.
func (c *pcluster) Client(i int) *client.Client {
	cl, err := client.New(c.URL(i), client.WithTimeout(10*time.Second))
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// start starts node i's process (its log appended to its file).
func (c *pcluster) start(i int) {
	p := c.procs[i]
	argv := c.net.command(i, p.args)
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("start node %d: %v", i+1, err)
	}
	f.Close()
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.stopped = cmd, exited, false
	p.mu.Unlock()
	go func() {
		cmd.Wait()
		close(exited)
	}()
}

// waitUp waits until node i answers /ping.
func (c *pcluster) waitUp(i int, d time.Duration) {
	c.t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	testwait.Until(c.t, d, func() error {
		resp, err := hc.Get(c.URL(i) + "/ping")
		if err != nil {
			return fmt.Errorf("node %d: %v\n%s", i+1, err, c.logTail(i))
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("node %d: ping %d", i+1, resp.StatusCode)
		}
		return nil
	})
}

// signal sends sig to node i's process.
func (c *pcluster) signal(i int, sig syscall.Signal) {
	p := c.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(sig)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.stopped = true
	case syscall.SIGCONT:
		p.stopped = false
	}
}

// Kill SIGKILLs node i and waits for its exit.
func (c *pcluster) Kill(i int) {
	p := c.procs[i]
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Restart starts a killed node again on its data directory.
func (c *pcluster) Restart(i int) {
	c.start(i)
	c.waitUp(i, 60*time.Second)
}

// Running reports whether node i's process is running.
func (c *pcluster) Running(i int) bool {
	p := c.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

func (c *pcluster) close() {
	for i := range c.procs {
		c.Kill(i)
	}
	c.net.close()
	if c.t.Failed() {
		for i := range c.procs {
			c.t.Logf("node %d log tail:\n%s", i+1, c.logTail(i))
		}
	}
}

func (c *pcluster) logTail(i int) string {
	b, _ := os.ReadFile(c.procs[i].logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// admin runs `riakgo admin --url node i ARGS` (from the test's namespace).
func (c *pcluster) admin(i int, args ...string) (string, int) {
	cmd := exec.Command(binPath, append([]string{"admin", "--url", c.URL(i)}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), code
}

// Join forms the cluster: every node joins node 0, the plan is committed,
// and the cluster converges (ringready, transfers idle).
func (c *pcluster) Join() {
	c.t.Helper()
	for i := 1; i < len(c.procs); i++ {
		if out, code := c.admin(i, "cluster", "join", c.addr(0, 2)); code != 0 {
			c.t.Fatalf("join node %d: %s", i+1, out)
		}
	}
	testwait.Until(c.t, 60*time.Second, func() error {
		out, code := c.admin(0, "cluster", "plan")
		for i := 1; i < len(c.procs); i++ {
			if code != 0 || !strings.Contains(out, c.procs[i].name) {
				return fmt.Errorf("plan: %s", out)
			}
		}
		return nil
	})
	testwait.Until(c.t, 60*time.Second, func() error {
		if out, code := c.admin(0, "cluster", "commit"); code != 0 {
			return fmt.Errorf("commit: %s", out)
		}
		return nil
	})
	if d, err := c.Converge(120 * time.Second); err != nil {
		c.t.Fatalf("the new cluster did not converge: %v", err)
	} else {
		c.t.Logf("cluster of %d formed and converged %v after the commit", len(c.procs), d.Round(time.Millisecond))
	}
}

// Converged reports nil when every node is up, ringready is TRUE and no
// node has a transfer active, waiting or a repair pending, asked through
// every node.
func (c *pcluster) Converged() error {
	for i := range c.procs {
		if out, code := c.admin(i, "ringready"); code != 0 {
			return fmt.Errorf("ringready through node %d: %s", i+1, strings.TrimSpace(out))
		}
	}
	resp, err := http.Get(c.URL(0) + "/admin/transfers")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tj riakhttp.TransfersJSON
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &tj); err != nil {
		return fmt.Errorf("transfers: %v: %s", err, b)
	}
	if len(tj.Down)+len(tj.Unreachable) > 0 {
		return fmt.Errorf("transfers: down %v, unreachable %v", tj.Down, tj.Unreachable)
	}
	for _, st := range tj.Nodes {
		if st.Waiting > 0 || st.Repairing > 0 || len(st.Active) > 0 {
			return fmt.Errorf("transfers: %s waiting %d, repairing %d, active %d", st.Node, st.Waiting, st.Repairing, len(st.Active))
		}
	}
	return nil
}

// Converge waits (at most d) for Converged and returns how long it took.
func (c *pcluster) Converge(d time.Duration) (time.Duration, error) {
	start := time.Now()
	var last error
	ok := false
	func() {
		defer func() { recover() }()
		testwait.Until(nopT{c.t}, d, func() error {
			last = c.Converged()
			return last
		})
		ok = true
	}()
	if !ok {
		return time.Since(start), last
	}
	return time.Since(start), nil
}

// nopT turns testwait's Fatalf into a panic Converge recovers.
type nopT struct{ testing.TB }

func (nopT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (nopT) Helper()                           {}

// httpc keeps enough idle connections for the tests' parallel readers
// (the default two per host would exhaust the ephemeral ports).
var httpc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// get is a plain GET for tests (status and body).
func get(ctx context.Context, url string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

var repairKeys = flag.Int("jepsen.repairkeys", 3000, "keys TestWipedNodeRepairRealProcesses writes")

// dataDir is node i's data directory.
func (c *pcluster) dataDir(i int) string { return filepath.Join(c.dir, fmt.Sprintf("n%d", i+1)) }

func removeAll(dir string) error { return os.RemoveAll(dir) }

// parallel runs f(0..n-1) on w goroutines and returns the errors.
func parallel(w, n int, f func(i int) error) []error {
	var mu sync.Mutex
	var errs []error
	next := make(chan int)
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// down returns the members node i sees down (its transfers route).
func (c *pcluster) down(i int) ([]string, error) {
	code, body, err := get(context.Background(), c.URL(i)+"/admin/transfers")
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("transfers: %d %s", code, body)
	}
	var tj riakhttp.TransfersJSON
	if err := json.Unmarshal([]byte(body), &tj); err != nil {
		return nil, err
	}
	var out []string
	for _, n := range tj.Down {
		out = append(out, string(n))
	}
	return out, nil
}
