package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/client"
)

// runPGBench implements `riakgo pg bench`: G groups of M members joined
// through the nodes of --urls in turn (member i of a group is owned by
// node i mod len(urls)), then random members reads and picks through every
// node, then every member leaves. It prints each phase's operations,
// rate and latency percentiles.
func runPGBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pg bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("urls", "http://127.0.0.1:8098", "comma-separated HTTP addresses of the nodes")
	scope := fs.String("scope", "bench", "the scope (bucket) of the groups")
	groups := fs.Int("groups", 10000, "number of groups")
	members := fs.Int("members", 100, "members per group")
	workers := fs.Int("workers", 32, "concurrent requests")
	reads := fs.Int("reads", 50000, "members reads, and as many picks")
	seed := fs.Uint64("seed", 1, "random seed")
	skipLeave := fs.Bool("skip-leave", false, "leave the members in place")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	us := splitURLs(*urls)
	if len(us) == 0 || *groups < 1 || *members < 1 || *workers < 1 || *reads < 0 {
		fmt.Fprintln(stderr, "riakgo pg bench: need --urls, and positive --groups, --members, --workers")
		return 2
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2}}
	var cs []*client.Client
	for _, u := range us {
		c, err := client.New(u, client.WithHTTPClient(hc), client.WithTimeout(60*time.Second))
		if err != nil {
			fmt.Fprintf(stderr, "riakgo pg bench: %v\n", err)
			return 2
		}
		cs = append(cs, c)
	}
	ctx := context.Background()
	s := client.PGScope{Bucket: *scope}
	G, M := *groups, *members
	group := func(g int) string { return fmt.Sprintf("g%05d", g) }
	id := func(i int) string { return fmt.Sprintf("m%03d", i) }
	fmt.Fprintf(stdout, "pg bench: %d groups x %d members through %d nodes, %d workers\n", G, M, len(cs), *workers)
	// Member-major order: concurrent requests touch different groups (an
	// owner serialises its syncs per group).
	membership := func(op func(c *client.Client, g, i int) error) func(n int) error {
		return func(n int) error {
			g, i := n%G, n/G
			return op(cs[i%len(cs)], g, i)
		}
	}
	failed := false
	report := func(name string, r phaseResult) {
		fmt.Fprintf(stdout, "%-8s %9d ops %8.1f s %9.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n",
			name, r.ops, r.elapsed.Seconds(), float64(r.ops)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), r.errors)
		if r.firstErr != nil {
			fmt.Fprintf(stdout, "         first error: %v\n", r.firstErr)
			failed = true
		}
	}
	report("join", runPhase(G*M, *workers, membership(func(c *client.Client, g, i int) error {
		_, err := c.PGJoin(ctx, s, group(g), id(i), &client.PGJoinOptions{Meta: fmt.Sprintf("10.0.%d.%d:80", i/256, i%256)})
		return err
	})))
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	randGroup := func() int {
		mu.Lock()
		defer mu.Unlock()
		return rnd.IntN(G)
	}
	var short atomic.Int64
	report("members", runPhase(*reads, *workers, func(n int) error {
		got, err := cs[n%len(cs)].PGMembers(ctx, s, group(randGroup()), client.PGAll)
		if err == nil && len(got) != M {
			short.Add(1)
		}
		return err
	}))
	if n := short.Load(); n > 0 {
		fmt.Fprintf(stdout, "         %d reads did not list %d members\n", n, M)
		failed = true
	}
	strategies := []string{client.PGPickRandom, client.PGPickClosest, client.PGPickOldest, client.PGPickHash}
	report("pick", runPhase(*reads, *workers, func(n int) error {
		_, err := cs[n%len(cs)].PGPick(ctx, s, group(randGroup()), strategies[n%len(strategies)], fmt.Sprint("k", n))
		return err
	}))
	if !*skipLeave {
		report("leave", runPhase(G*M, *workers, membership(func(c *client.Client, g, i int) error {
			_, err := c.PGLeave(ctx, s, group(g), id(i), 0)
			return err
		})))
	}
	if failed {
		return 1
	}
	return 0
}

type phaseResult struct {
	ops, errors int
	elapsed     time.Duration
	p50, p99    time.Duration
	firstErr    error
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runPhase runs op(0..n-1) on workers goroutines and measures it.
func runPhase(n, workers int, op func(int) error) phaseResult {
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	errs := make([]int, workers)
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				err := op(i)
				lat[w] = append(lat[w], time.Since(t))
				if err != nil {
					errs[w]++
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	r := phaseResult{ops: n, elapsed: time.Since(start), firstErr: firstErr}
	var all []time.Duration
	for w := range workers {
		all = append(all, lat[w]...)
		r.errors += errs[w]
	}
	slices.Sort(all)
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}
