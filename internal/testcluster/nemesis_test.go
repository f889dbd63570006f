package testcluster

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/jepsen"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport/memnet"
)

// The in-process fault-injection suite (issue 16): five nodes on memnet
// and the manual clock, a seeded nemesis (partitions of several shapes,
// kills with restart on kept storage, pauses, message drops and delays)
// while clients run internal/jepsen's workloads through the nodes' HTTP
// handlers, then a heal, a settle and the checkers on reads of every
// replica. Each seed is a subtest; a failure prints the command that runs
// that seed again. The schedule of faults and operations follows from
// the seed; the interleaving of concurrent goroutines does not, so a
// replay runs the same faults and operations, not necessarily the same
// interleaving.

var (
	nemesisSeeds = flag.Int("nemesis.seeds", 0, "seeds the nemesis suite runs (default 200; 20 under the race detector)")
	nemesisSeed0 = flag.Uint64("nemesis.seed0", 0, "first seed of the nemesis suite (default: from the clock, logged)")
)

func TestNemesis(t *testing.T) {
	n := *nemesisSeeds
	if n <= 0 {
		n = 200
		if raceEnabled {
			n = 20
		}
	}
	s0 := *nemesisSeed0
	if s0 == 0 {
		s0 = uint64(time.Now().UnixNano()%1_000_000_000) * 1000
	}
	t.Logf("nemesis: %d seeds from %d", n, s0)
	start := time.Now()
	var ops, acked int
	for i := range n {
		seed := s0 + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			o, a := runNemesis(t, seed)
			ops += o
			acked += a
		})
	}
	t.Logf("nemesis: %d seeds, %d operations (%d acknowledged) in %v", n, ops, acked, time.Since(start).Round(time.Millisecond))
}

// inproc is an http.RoundTripper to node i's handler: a killed node
// refuses the connection, a paused one lets the request time out.
type inproc struct {
	c *Cluster
	i int
}

func (p inproc) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if !p.c.Alive(p.i) {
		return nil, jepsen.ErrRefused
	}
	if p.c.Paused(p.i) {
		return nil, context.DeadlineExceeded
	}
	// The harness is the nodes' local machine (admin routes answer only
	// it while security is off).
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	p.c.HTTP(p.i).ServeHTTP(rec, req)
	return rec.Result(), nil
}

// pump advances the clock whenever the network waits for it (a call whose
// request or answer was dropped, held or delayed, and nothing else
// running), so that timeouts fire as they would in real time.
func pump(ctx context.Context, c *Cluster) {
	for ctx.Err() == nil {
		err := c.Net.Wait(ctx, func(s memnet.Stats) bool { return s.Busy == 0 && (s.Pending > 0 || s.Delayed > 0) })
		if err != nil {
			return
		}
		c.Clock.Advance(50 * time.Millisecond)
	}
}

// fault is one nemesis action and its undoing.
type fault struct {
	name string
	undo func()
}

// pickFault applies a random fault to c.
func pickFault(rnd *rand.Rand, c *Cluster, n int) fault {
	perm := rnd.Perm(n)
	switch rnd.IntN(8) {
	case 0: // majority / minority
		k := n/2 + 1
		c.Partition(perm[:k], perm[k:])
		return fault{fmt.Sprintf("partition %v | %v", perm[:k], perm[k:]), c.Heal}
	case 1: // one node isolated
		c.Partition(perm[1:], perm[:1])
		return fault{fmt.Sprintf("isolate %d", perm[0]), c.Heal}
	case 2: // three groups
		a, b := 1+rnd.IntN(n-2), 0
		b = a + 1 + rnd.IntN(n-a-1)
		c.Partition(perm[:a], perm[a:b], perm[b:])
		return fault{fmt.Sprintf("partition %v | %v | %v", perm[:a], perm[a:b], perm[b:]), c.Heal}
	case 3, 4: // kill, restart on the kept storage
		i := perm[0]
		c.Kill(i)
		return fault{fmt.Sprintf("kill %d", i), func() { c.Restart(i) }}
	case 5: // pause
		i := perm[0]
		c.Pause(i)
		return fault{fmt.Sprintf("pause %d", i), func() { c.Resume(i) }}
	case 6: // message loss everywhere
		p := 0.05 + rnd.Float64()*0.25
		c.Net.SetDrop(memnet.Any, memnet.Any, p)
		return fault{fmt.Sprintf("drop %.2f", p), func() { c.Net.SetDrop(memnet.Any, memnet.Any, 0) }}
	default: // slow links out of one node
		i := perm[0]
		d := time.Duration(100+rnd.IntN(1500)) * time.Millisecond
		c.Net.SetDelay(c.Nodes[i].ID, memnet.Any, d)
		return fault{fmt.Sprintf("delay %v from %d", d, i), func() { c.Net.SetDelay(c.Nodes[i].ID, memnet.Any, 0) }}
	}
}

// runNemesis runs one seed and returns its operation counts.
func runNemesis(t *testing.T, seed uint64) (ops, acked int) {
	const nodes, workers, opsPerTick = 5, 4, 2
	rnd := rand.New(rand.NewPCG(seed, 0x6e656d65))
	c := New(t, nodes, Options{RingSize: 16, Seed: seed, Quiet: true,
		Handoff: func(i int, hc *handoff.Config) { hc.BatchCount = 50 }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pctx, stopPump := context.WithCancel(ctx)
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		pump(pctx, c)
	}()
	clients := make([]*client.Client, nodes)
	for i := range clients {
		cl, err := client.New(fmt.Sprintf("http://node%d", i+1), client.WithHTTPClient(&nethttp.Client{Transport: inproc{c, i}}))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = cl
	}
	if err := jepsen.Setup(ctx, clients[0]); err != nil {
		t.Fatal(err)
	}
	settleQuick(t, c)
	w := jepsen.New(jepsen.Config{Seed: seed, Clients: workers, Keys: 3, Timeout: 2 * time.Second}, clients)
	wr := make([]*rand.Rand, workers)
	for i := range wr {
		wr[i] = rand.New(rand.NewPCG(seed, uint64(i)+1))
	}
	n := 0
	step := func() {
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range opsPerTick {
					w.Step(ctx, wr[i], i, n*opsPerTick+k)
				}
			}()
		}
		wg.Wait()
		n++
		c.Tick()
	}
	var schedule []string
	for range 3 + rnd.IntN(4) {
		f := pickFault(rnd, c, nodes)
		schedule = append(schedule, f.name)
		for range 1 + rnd.IntN(5) {
			step()
		}
		f.undo()
		for range rnd.IntN(3) {
			step()
		}
	}
	c.Heal()
	c.Net.SetDrop(memnet.Any, memnet.Any, 0)
	for i := range nodes {
		c.Net.SetDelay(c.Nodes[i].ID, memnet.Any, 0)
		if c.Paused(i) {
			c.Resume(i)
		}
		if !c.Alive(i) {
			c.Restart(i)
		}
	}
	settleQuick(t, c)
	// The final reads run without the pump: it moves the clock whenever
	// the network waits on it, and calls dropped long ago can leave it
	// racing the clock past the reads' own deadlines. Those calls are
	// timed out first, then nothing waits on the clock any more.
	stopPump()
	<-pumped
	drainClock(t, c)
	res := jepsen.Check(ctx, clients[rnd.IntN(nodes)], w.History(), 0)
	for _, s := range res.Stats {
		ops += s.OK + s.Failed + s.Indeterminate
		acked += s.OK
	}
	if !res.Valid() {
		t.Errorf("seed %d: faults %s\n%s\nreplay: go test ./internal/testcluster/ -run 'TestNemesis/seed=%d$' -nemesis.seed0=%d -nemesis.seeds=1 -count=1",
			seed, strings.Join(schedule, ", "), res, seed, seed)
	}
	return ops, acked
}

// drainClock advances the clock until no call waits on it (every call
// whose message was lost has reached its deadline).
func drainClock(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 120; i++ {
		err := c.Net.Wait(ctx, func(s memnet.Stats) bool { return s.Busy == 0 })
		if err != nil {
			t.Fatalf("the network stays busy: %v", err)
		}
		if s := c.Net.Stats(); s.Pending == 0 && s.Delayed == 0 {
			return
		}
		c.Clock.Advance(time.Second)
	}
	t.Fatalf("calls still wait on the clock: %+v", c.Net.Stats())
}

// settleQuick ticks until the cluster is idle, moving the clock on only
// when no transfer is running (so that a transfer is not timed out by a
// clock that outruns it), and never sleeping between ticks otherwise.
func settleQuick(t *testing.T, c *Cluster) {
	t.Helper()
	whole := func() error {
		for _, a := range c.live() {
			for _, b := range c.live() {
				if a != b && !a.N.NodeUp(b.ID) {
					return fmt.Errorf("%s sees %s down", a.ID, b.ID)
				}
			}
		}
		return c.Idle()
	}
	for i := 0; i < 300; i++ {
		if whole() == nil {
			return
		}
		testwait.For(t, 30*time.Second, "running transfers", func() bool {
			if c.Net.Stats().Busy > 0 {
				return false
			}
			for _, st := range c.Transfers() {
				for _, pr := range st.Active {
					if pr.Direction == handoff.Outbound {
						return false // inbound slots of dead senders go at a tick's sweep
					}
				}
			}
			return true
		})
		c.Tick()
	}
	t.Fatalf("not whole and idle after 300 ticks: %v", whole())
}
