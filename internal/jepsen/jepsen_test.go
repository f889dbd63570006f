package jepsen

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
)

// TestJepsen is the real-process fault-injection run: 5 `riakgo start`
// processes (each in its own network namespace where the machine allows
// it, on loopback otherwise), the workloads of this package through every
// node, and a seeded nemesis of partitions (majority/minority, one node
// isolated, a bridge, random halves, one-way cuts), SIGKILL with restart,
// and SIGSTOP/SIGCONT. After the nemesis everything is healed; the run
// measures how long the cluster takes to converge (ringready TRUE, no
// transfer active, waiting or repairing), then checks the final state.
// make test runs a short run; make jepsen DURATION=… SEED=… RUNS=… long
// ones, whose results go to docs/reliability.md.

var (
	jDuration = flag.Duration("jepsen.duration", 30*time.Second, "length of TestJepsen's nemesis phase")
	jSeed     = flag.Uint64("jepsen.seed", 0, "TestJepsen's first seed (default: from the clock, logged)")
	jRuns     = flag.Int("jepsen.runs", 1, "TestJepsen runs (seeds seed, seed+1, ...), each on a fresh cluster")
	jNodes    = flag.Int("jepsen.nodes", 5, "TestJepsen's cluster size")
	jOut      = flag.String("jepsen.out", "", "append each run's result, one JSON line, to this file")
	jConverge = flag.Duration("jepsen.converge", 60*time.Second, "bound on convergence after the heal (docs/reliability.md)")
)

func TestJepsen(t *testing.T) {
	skipShortOrRace(t)
	seed := *jSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano() % 1_000_000)
	}
	for r := range *jRuns {
		s := seed + uint64(r)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runJepsen(t, s) })
	}
}

// runResult is one run's line in the -jepsen.out file.
type runResult struct {
	Seed        uint64           `json:"seed"`
	Nodes       int              `json:"nodes"`
	Network     string           `json:"network"`
	Duration    string           `json:"duration"`
	Faults      map[string]int   `json:"faults"`
	ConvergeSec float64          `json:"converge_s"`
	Stats       map[string]*Stat `json:"stats"`
	Valid       bool             `json:"valid"`
	Date        string           `json:"date"`
	// Build is what the binary under test says of itself (riakgo
	// version: release, Go version and commit).
	Build string `json:"build"`
}

// realFault is a fault on processes and links, and its undoing.
type realFault struct {
	kind, desc string
	undo       func()
}

func pickRealFault(rnd *rand.Rand, c *pcluster) realFault {
	n := len(c.procs)
	perm := rnd.Perm(n)
	partition := func(kind string, groups ...[]int) realFault {
		side := map[int]int{}
		for g, members := range groups {
			for _, i := range members {
				side[i] = g
			}
		}
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				if a != b && side[a] != side[b] {
					c.net.cut(a, b, true)
				}
			}
		}
		return realFault{kind, fmt.Sprintf("%s %v", kind, oneBased(groups...)), func() { c.net.heal() }}
	}
	choices := 3
	if c.net.partitions() {
		choices = 8
	}
	switch k := rnd.IntN(choices); {
	case k == 0: // SIGKILL one node, restart it later on its data
		i := perm[0]
		c.Kill(i)
		return realFault{"kill", fmt.Sprintf("kill %d", i+1), func() { c.Restart(i) }}
	case k == 1: // SIGKILL two nodes
		i, j := perm[0], perm[1]
		c.Kill(i)
		c.Kill(j)
		return realFault{"kill", fmt.Sprintf("kill %d and %d", i+1, j+1), func() { c.Restart(i); c.Restart(j) }}
	case k == 2: // SIGSTOP, then SIGCONT
		i := perm[0]
		c.signal(i, syscall.SIGSTOP)
		return realFault{"pause", fmt.Sprintf("pause %d", i+1), func() { c.signal(i, syscall.SIGCONT) }}
	case k == 3:
		m := n/2 + 1
		return partition("majority/minority", perm[:m], perm[m:])
	case k == 4:
		return partition("isolate", perm[1:], perm[:1])
	case k == 5: // a bridge: perm[0] talks to both halves, which do not talk to each other
		h := (n - 1) / 2
		a, b := perm[1:1+h], perm[1+h:]
		for _, x := range a {
			for _, y := range b {
				c.net.cut(x, y, true)
				c.net.cut(y, x, true)
			}
		}
		return realFault{"bridge", fmt.Sprintf("bridge %d between %v", perm[0]+1, oneBased(a, b)), func() { c.net.heal() }}
	case k == 6:
		m := 1 + rnd.IntN(n-1)
		return partition("random halves", perm[:m], perm[m:])
	default: // one-way: some links drop in one direction only
		var links []string
		for range 1 + rnd.IntN(n) {
			a, b := rnd.IntN(n), rnd.IntN(n)
			if a != b {
				c.net.cut(a, b, true)
				links = append(links, fmt.Sprintf("%d→%d", a+1, b+1))
			}
		}
		return realFault{"one-way", "one-way " + strings.Join(links, " "), func() { c.net.heal() }}
	}
}

// oneBased renders groups of node indexes as node numbers.
func oneBased(groups ...[]int) string {
	var parts []string
	for _, g := range groups {
		var ns []string
		for _, i := range g {
			ns = append(ns, fmt.Sprint(i+1))
		}
		parts = append(parts, "{"+strings.Join(ns, " ")+"}")
	}
	return strings.Join(parts, " | ")
}

// hold waits d or until the deadline, whichever is first: a fault's
// length (the nemesis's schedule, not a wait for something to happen).
func hold(d time.Duration, deadline time.Time) {
	if until := time.Until(deadline); until < d {
		d = max(until, 0)
	}
	<-time.After(d)
}

func runJepsen(t *testing.T, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 0x6a657073))
	t.Logf("seed %d; replay: make jepsen DURATION=%v SEED=%d", seed, *jDuration, seed)
	c := newPCluster(t, *jNodes, "--handoff-stall-timeout", "5s")
	c.Join()
	ctx := context.Background()
	clients := make([]*client.Client, len(c.procs))
	for i := range clients {
		cl, err := client.New(c.URL(i), client.WithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = cl
	}
	if err := Setup(ctx, clients[0]); err != nil {
		t.Fatal(err)
	}
	w := New(Config{Seed: seed, Clients: 8, Keys: 8, Timeout: 3 * time.Second}, clients)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.Run(wctx)
	}()
	faults := map[string]int{}
	deadline := time.Now().Add(*jDuration)
	for time.Now().Before(deadline) {
		f := pickRealFault(rnd, c)
		faults[f.kind]++
		t.Logf("%6.1fs %s", time.Until(deadline).Seconds(), f.desc)
		hold(time.Duration(3000+rnd.IntN(7000))*time.Millisecond, deadline)
		f.undo()
		hold(time.Duration(1000+rnd.IntN(3000))*time.Millisecond, deadline)
	}
	stop()
	wg.Wait()
	c.net.heal()
	for i := range c.procs {
		c.signal(i, syscall.SIGCONT)
		if !c.Running(i) {
			c.Restart(i)
		}
	}
	healed := time.Now()
	conv, err := c.Converge(*jConverge)
	if err != nil {
		t.Fatalf("not converged %v after the heal: %v", conv.Round(time.Millisecond), err)
	}
	t.Logf("converged %v after the heal", conv.Round(time.Millisecond))
	_ = healed
	res := Check(ctx, clients[0], w.History(), 10)
	t.Logf("seed %d, %v, %d nodes, %s\n%s", seed, *jDuration, len(c.procs), c.net, res)
	if *jOut != "" {
		out := runResult{Seed: seed, Nodes: len(c.procs), Network: networkKind(c.net), Duration: jDuration.String(), Faults: faults,
			ConvergeSec: conv.Seconds(), Stats: map[string]*Stat{}, Valid: res.Valid(), Date: time.Now().UTC().Format(time.RFC3339),
			Build: binVersion}
		for k, s := range res.Stats {
			out.Stats[string(k)] = s
		}
		b, _ := json.Marshal(out)
		f, err := os.OpenFile(*jOut, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			f.Write(append(b, '\n'))
			f.Close()
		}
	}
	if !res.Valid() {
		t.Errorf("seed %d: acknowledged writes lost or unexpected values; replay: make jepsen DURATION=%v SEED=%d", seed, *jDuration, seed)
	}
}

func networkKind(n network) string {
	if n.partitions() {
		return "netns"
	}
	return "loopback"
}
