package jepsen

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The network of a real-process cluster. With root and network
// namespaces each node runs in a namespace of its own, on a bridge in the
// test's namespace; a partition routes a node's packets for another node
// to a sink namespace that drops them (no ICMP, no refusal: silence, as a
// cut cable), one direction at a time, so every shape can be made,
// asymmetric ones included. Only iproute2 is needed. Without namespaces
// every node runs on 127.0.0.1 and partitions are not available (the
// nemesis then uses kills and pauses only).

type network interface {
	// host is node i's IP address.
	host(i int) string
	// command wraps node i's command line (a namespace prefix).
	command(i int, argv []string) []string
	// partitions reports whether cut works.
	partitions() bool
	// cut drops every packet node from sends to node to (true) or lets
	// them through again (false).
	cut(from, to int, on bool) error
	// heal lets every packet through.
	heal() error
	close()
	String() string
}

// loopback: every node on 127.0.0.1.
type loopback struct{}

func (loopback) host(int) string                       { return "127.0.0.1" }
func (loopback) command(_ int, argv []string) []string { return argv }
func (loopback) partitions() bool                      { return false }
func (loopback) cut(int, int, bool) error {
	return fmt.Errorf("partitions need network namespaces (root)")
}
func (loopback) heal() error    { return nil }
func (loopback) close()         {}
func (loopback) String() string { return "loopback (no partitions: not root or no network namespaces)" }

// netns: one namespace per node on a bridge.
type netns struct {
	t      testing.TB
	id     string
	prefix string // "10.a.b."
	n      int
	mu     sync.Mutex
	cuts   map[[2]int]bool
}

func (e *netns) String() string {
	return fmt.Sprintf("network namespaces rj%s* on bridge rj%sb, %s0/24", e.id, e.id, e.prefix)
}

func ipcmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// canNetns reports whether this process can make network namespaces.
func canNetns() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return false
	}
	name := fmt.Sprintf("rjprobe%d", os.Getpid()%100000)
	if ipcmd("netns", "add", name) != nil {
		return false
	}
	ipcmd("netns", "del", name)
	return true
}

// newNetwork sets up namespaces for n nodes, or loopback if it cannot
// (or if loopbackOnly).
func newNetwork(t testing.TB, n int, loopbackOnly bool) network {
	if loopbackOnly || !canNetns() {
		return loopback{}
	}
	removeStaleNetworks(t)
	rnd := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(n)))
	for try := 0; try < 20; try++ {
		// The id starts with this process's pid, so a later run can tell
		// that a killed run's namespaces are stale.
		e := &netns{t: t, id: fmt.Sprintf("%06x%x", os.Getpid()&0xffffff, rnd.IntN(16)), n: n, cuts: map[[2]int]bool{},
			prefix: fmt.Sprintf("10.%d.%d.", 150+rnd.IntN(100), rnd.IntN(250))}
		if taken(e.prefix+"1") || ipcmd("link", "add", e.bridge(), "type", "bridge") != nil {
			continue
		}
		if err := e.setup(); err != nil {
			e.close()
			t.Fatalf("network namespaces: %v", err)
		}
		return e
	}
	t.Fatal("no free bridge name or subnet for the network namespaces")
	return nil
}

// staleID matches the namespaces and bridges of a run (rj, six hex
// digits of its pid, one more hex digit, then n<i>, s or b).
var staleID = regexp.MustCompile(`^rj([0-9a-f]{6})[0-9a-f](n[0-9]+|s|b)$`)

// removeStaleNetworks deletes the namespaces and bridges left by runs
// whose process is gone (a run killed before its cleanup).
func removeStaleNetworks(t testing.TB) {
	stale := func(name string) bool {
		m := staleID.FindStringSubmatch(name)
		if m == nil {
			return false
		}
		pid, err := strconv.ParseInt(m[1], 16, 64)
		if err != nil {
			return false
		}
		return syscall.Kill(int(pid), 0) == syscall.ESRCH
	}
	var removed []string
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && stale(f[0]) && ipcmd("netns", "del", f[0]) == nil {
				removed = append(removed, f[0])
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show", "type", "bridge").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name := strings.TrimSuffix(f[1], ":")
			if stale(name) && ipcmd("link", "del", name) == nil {
				removed = append(removed, name)
			}
		}
	}
	if len(removed) > 0 {
		t.Logf("removed the network namespaces and bridges of killed runs: %s", strings.Join(removed, " "))
	}
}

// taken reports whether ip is one of this machine's addresses.
func taken(ip string) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), ip+"/") {
			return true
		}
	}
	return false
}

func (e *netns) bridge() string  { return "rj" + e.id + "b" }
func (e *netns) ns(i int) string { return fmt.Sprintf("rj%sn%d", e.id, i) }
func (e *netns) sink() string    { return "rj" + e.id + "s" }
func (e *netns) sinkIP() string  { return e.prefix + "250" }
func (e *netns) host(i int) string {
	return fmt.Sprintf("%s%d", e.prefix, 11+i)
}

func (e *netns) setup() error {
	steps := [][]string{
		{"link", "set", e.bridge(), "up"},
		{"addr", "add", e.prefix + "1/24", "dev", e.bridge()},
	}
	add := func(ns, ip, tag string) {
		host, peer := "rj"+e.id+"h"+tag, "rj"+e.id+"c"+tag
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", host, "master", e.bridge()},
			[]string{"link", "set", host, "up"},
			[]string{"link", "set", peer, "netns", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "addr", "add", ip + "/24", "dev", peer},
			[]string{"-n", ns, "link", "set", peer, "up"},
		)
	}
	for i := 0; i < e.n; i++ {
		add(e.ns(i), e.host(i), fmt.Sprint(i))
	}
	add(e.sink(), e.sinkIP(), "s") // forwarding is off in a new namespace: it drops what it is sent
	for _, s := range steps {
		if err := ipcmd(s...); err != nil {
			return err
		}
	}
	return nil
}

func (e *netns) command(i int, argv []string) []string {
	return append([]string{"ip", "netns", "exec", e.ns(i)}, argv...)
}

func (e *netns) partitions() bool { return true }

func (e *netns) cut(from, to int, on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := [2]int{from, to}
	if e.cuts[k] == on {
		return nil
	}
	var err error
	if on {
		err = ipcmd("-n", e.ns(from), "route", "replace", e.host(to)+"/32", "via", e.sinkIP())
	} else {
		err = ipcmd("-n", e.ns(from), "route", "del", e.host(to)+"/32")
	}
	if err == nil {
		e.cuts[k] = on
	}
	return err
}

func (e *netns) heal() error {
	e.mu.Lock()
	var ks [][2]int
	for k, on := range e.cuts {
		if on {
			ks = append(ks, k)
		}
	}
	e.mu.Unlock()
	for _, k := range ks {
		if err := e.cut(k[0], k[1], false); err != nil {
			return err
		}
	}
	return nil
}

func (e *netns) close() {
	for i := 0; i < e.n; i++ {
		ipcmd("netns", "del", e.ns(i))
	}
	ipcmd("netns", "del", e.sink())
	ipcmd("link", "del", e.bridge())
}

func TestRemoveStaleNetworks(t *testing.T) {
	if !canNetns() {
		t.Skip("needs root and network namespaces (as the partition tests do)")
	}
	// No pid reaches 0xffffff (the kernel caps pid_max at 2^22).
	stale, live := "rjffffff0n0", fmt.Sprintf("rj%06x0n0", os.Getpid()&0xffffff)
	for _, n := range []string{stale, live} {
		if err := ipcmd("netns", "add", n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ipcmd("netns", "del", n) })
	}
	removeStaleNetworks(t)
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), stale) || !strings.Contains(string(out), live) {
		t.Fatalf("after the sweep, namespaces are:\n%s", out)
	}
}
