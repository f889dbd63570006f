package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	riakhttp "github.com/riakgo/riakgo/http"
)

// riakgo bench-handoff measures ownership handoff between two `riakgo
// start` processes on loopback and, in the same run, a plain TCP copy of
// the same number of bytes between two processes (this binary's hidden
// --tcp-sink mode), for each object size:
//
//  1. start node A (fresh data directory, free loopback ports), set the
//     bench bucket's n_val to 1 so that every object is stored once, and
//     PUT the objects over HTTP with concurrent workers;
//  2. start node B, `cluster join` it to A, wait for the plan, commit, and
//     poll A's GET /admin/transfers every --poll; the handoff interval runs
//     from the earliest Started time of A's outbound transfers to the first
//     poll at which A has completed every planned transfer and has none
//     active. Objects and bytes moved are A's handoff totals (storage key
//     plus encoded object, what the transfer protocol counts);
//  3. copy the same number of bytes over one loopback TCP connection to the
//     sink process, in 1 MiB writes and again in object-sized writes; the
//     copy runs from the dial to the sink's acknowledgement that it has read
//     every byte.

const benchHandoffUsage = `usage: riakgo bench-handoff [flags]

Handoff throughput between two riakgo processes on loopback, next to a plain
TCP copy of the same bytes in the same run (see docs/performance.md).

Flags:
`

// bhConfig is what a bench-handoff run does.
type bhConfig struct {
	Sizes          []int64       // object sizes (value bytes)
	Bytes          int64         // value bytes loaded per size (when Objects is 0)
	Objects        int           // objects loaded per size; overrides Bytes
	Workers        int           // concurrent PUTs while loading
	Poll           time.Duration // /admin/transfers polling interval
	RingSize       int           // partitions
	Timeout        time.Duration // bound on each phase (start, load, handoff)
	ProfileDir     string        // CPU profiles of sender and receiver go here ("" = none)
	ProfileSeconds int           // length of each CPU profile
	NodeLogLevel   string        // the nodes' --log-level
	Keep           bool          // keep the temporary directory (data and logs)
}

func (c bhConfig) objectsFor(size int64) int {
	if c.Objects > 0 {
		return c.Objects
	}
	n := c.Bytes / size
	if n < 1 {
		n = 1
	}
	return int(n)
}

// parseByteSize reads a byte count: a number with an optional unit B, KiB,
// MiB, GiB (also K, M, G and KB, MB, GB, all powers of 1024).
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: expected a number with an optional unit (B, KiB, MiB, GiB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %v", s, err)
	}
	var mul int64
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b":
		mul = 1
	case "k", "kb", "kib":
		mul = 1 << 10
	case "m", "mb", "mib":
		mul = 1 << 20
	case "g", "gb", "gib":
		mul = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KiB, MiB or GiB)", s, t[i:])
	}
	if n <= 0 {
		return 0, fmt.Errorf("size %q must be positive", s)
	}
	if n > (1<<62)/mul {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mul, nil
}

// formatByteSize prints n in the largest binary unit that divides it.
func formatByteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// parseBenchHandoffArgs parses the flags of a measuring run (not the
// --tcp-sink mode). errHelp means -h was asked for.
func parseBenchHandoffArgs(args []string, stderr io.Writer) (bhConfig, error) {
	cfg := bhConfig{Workers: 16, Poll: 50 * time.Millisecond, RingSize: 64, Timeout: 10 * time.Minute, ProfileSeconds: 15, NodeLogLevel: "warn"}
	fs := flag.NewFlagSet("bench-handoff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "1KiB,64KiB", "comma-separated object `sizes` (value bytes), each measured on a fresh pair of nodes")
	total := fs.String("bytes", "256MiB", "value `bytes` loaded per object size")
	fs.IntVar(&cfg.Objects, "objects", 0, "objects loaded per size (overrides --bytes when > 0)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent PUTs while loading")
	fs.DurationVar(&cfg.Poll, "poll", cfg.Poll, "interval between polls of GET /admin/transfers")
	fs.IntVar(&cfg.RingSize, "ring-size", cfg.RingSize, "partitions")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on each phase: start, load, join, handoff")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "write CPU profiles of the sender and the receiver during each handoff to this `dir`")
	fs.IntVar(&cfg.ProfileSeconds, "profile-seconds", cfg.ProfileSeconds, "length of each CPU profile in seconds (from the commit)")
	fs.StringVar(&cfg.NodeLogLevel, "node-log-level", cfg.NodeLogLevel, "the nodes' --log-level (their logs go to the temporary directory)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory with the nodes' data and logs, and print its path")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchHandoffUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*sizes, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		n, err := parseByteSize(s)
		if err != nil {
			return cfg, err
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	if len(cfg.Sizes) == 0 {
		return cfg, errors.New("--sizes: no object size")
	}
	var err error
	if cfg.Bytes, err = parseByteSize(*total); err != nil {
		return cfg, fmt.Errorf("--bytes: %v", err)
	}
	switch {
	case cfg.Objects < 0:
		return cfg, errors.New("--objects must not be negative")
	case cfg.Workers < 1:
		return cfg, errors.New("--workers must be at least 1")
	case cfg.Poll <= 0:
		return cfg, errors.New("--poll must be positive")
	case cfg.RingSize < 2 || cfg.RingSize&(cfg.RingSize-1) != 0:
		return cfg, errors.New("--ring-size must be a power of two, at least 2")
	case cfg.Timeout <= 0:
		return cfg, errors.New("--timeout must be positive")
	case cfg.ProfileSeconds < 1:
		return cfg, errors.New("--profile-seconds must be at least 1")
	}
	return cfg, nil
}

// bhResult is one object size's measurement.
type bhResult struct {
	Size        int64
	Loaded      int           // objects PUT
	LoadTime    time.Duration // time to PUT them
	Transfers   int           // planned ownership transfers (partitions moving)
	Objects     int64         // objects handed off
	Bytes       int64         // bytes handed off (storage keys + encoded objects)
	Handoff     time.Duration // first transfer started .. last completed
	Idle        time.Duration // polls inside Handoff that saw no transfer running
	TCPBigWrite time.Duration // TCP copy of Bytes in 1 MiB writes
	TCPObjWrite time.Duration // TCP copy of Bytes in Size-byte writes
}

func mibps(b int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(b) / (1 << 20) / d.Seconds()
}

// writeBenchHandoffTable prints the results as a Markdown table.
func writeBenchHandoffTable(w io.Writer, rs []bhResult) {
	fmt.Fprintln(w, "| object size | objects moved | MiB moved | transfers | handoff time | no transfer running (approx.) | objects/s | handoff MiB/s | TCP MiB/s (1 MiB writes) | TCP MiB/s (object-size writes) | handoff / TCP (1 MiB) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		ho, big, obj := mibps(r.Bytes, r.Handoff), mibps(r.Bytes, r.TCPBigWrite), mibps(r.Bytes, r.TCPObjWrite)
		ratio := 0.0
		if big > 0 {
			ratio = ho / big
		}
		objs := 0.0
		if r.Handoff > 0 {
			objs = float64(r.Objects) / r.Handoff.Seconds()
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %d | %.2f s | %.2f s | %.0f | %.1f | %.0f | %.0f | %.3f |\n",
			formatByteSize(r.Size), r.Objects, float64(r.Bytes)/(1<<20), r.Transfers, r.Handoff.Seconds(), r.Idle.Seconds(),
			objs, ho, big, obj, ratio)
	}
}

// listenLine is what `riakgo start` prints once it listens.
type listenLine struct{ HTTP, Gossip, Cluster string }

// parseListenLine reads "riakgo V listening on http://A (data in D; gossip
// G, internode C)".
func parseListenLine(l string) (listenLine, error) {
	var out listenLine
	_, rest, ok := strings.Cut(l, "listening on ")
	if !ok {
		return out, fmt.Errorf("unexpected start line %q", l)
	}
	if f := strings.Fields(rest); len(f) > 0 {
		out.HTTP = f[0]
	}
	if _, g, ok := strings.Cut(rest, "gossip "); ok {
		out.Gossip, _, _ = strings.Cut(g, ",")
	}
	if _, c, ok := strings.Cut(rest, "internode "); ok {
		out.Cluster, _, _ = strings.Cut(c, ")")
	}
	if !strings.HasPrefix(out.HTTP, "http://") || out.Gossip == "" || out.Cluster == "" {
		return out, fmt.Errorf("unexpected start line %q", l)
	}
	return out, nil
}

// plannedTransfers counts the partitions a plan moves from node from.
func plannedTransfers(p riakhttp.PlanJSON, from string) int {
	n := 0
	for _, t := range p.Transitions {
		for _, m := range t.Transfers {
			if m.From == from {
				n += m.Count
			}
		}
	}
	return n
}

func runBenchHandoff(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--tcp-sink" || args[0] == "-tcp-sink") {
		return runTCPSink(stdout, stderr)
	}
	cfg, err := parseBenchHandoffArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "riakgo bench-handoff: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBenchHandoff(ctx, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo bench-handoff: %v\n", err)
		return 1
	}
	defer b.close()
	var results []bhResult
	for _, size := range cfg.Sizes {
		r, err := b.measure(size)
		if err != nil {
			fmt.Fprintf(stderr, "riakgo bench-handoff: %s objects: %v\n", formatByteSize(size), err)
			return 1
		}
		results = append(results, r)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "Handoff: %d partitions, n_val 1 (each object stored once), handoff_concurrency 2 (default); sender, receiver, loader and TCP copy share this machine's %d CPUs (load average at the end: %s).\n", cfg.RingSize, runtime.NumCPU(), loadAvg())
	fmt.Fprintf(stdout, "Handoff time: earliest Started of node A's outbound transfers to the first %v poll of /admin/transfers that saw all planned transfers completed.\n", cfg.Poll)
	fmt.Fprintf(stdout, "No transfer running: the handoff time between consecutive polls where the later poll saw no transfer running (slots waiting for the node's 1 s scan); approximate, to a poll interval per gap.\n")
	fmt.Fprintln(stdout, "Bytes: storage keys + encoded objects as counted by the transfer protocol; the TCP copy sends the same number of bytes, from dial to the sink's acknowledgement (median of 5 copies, after the nodes stopped).")
	fmt.Fprintln(stdout)
	writeBenchHandoffTable(stdout, results)
	return 0
}

// benchHandoff holds a run's shared state: the temporary directory, the
// TCP sink and the node processes to stop.
type benchHandoff struct {
	ctx    context.Context
	cfg    bhConfig
	out    io.Writer
	errw   io.Writer
	exe    string
	dir    string
	sink   *bhProc
	client *http.Client
	n      int // pairs started
}

func newBenchHandoff(ctx context.Context, cfg bhConfig, stdout, stderr io.Writer) (*benchHandoff, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "riakgo-bench-handoff-")
	if err != nil {
		return nil, err
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	b := &benchHandoff{ctx: ctx, cfg: cfg, out: stdout, errw: stderr, exe: exe, dir: dir,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: cfg.Workers + 4}}}
	b.sink, err = b.startProc("tcp-sink", []string{"bench-handoff", "--tcp-sink"}, "tcp-sink listening on ")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("tcp sink: %w", err)
	}
	return b, nil
}

func (b *benchHandoff) close() {
	if b.sink != nil {
		b.sink.stop()
	}
	if b.cfg.Keep {
		fmt.Fprintf(b.errw, "riakgo bench-handoff: kept %s\n", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

// bhProc is a child process of the benchmark.
type bhProc struct {
	name    string
	line    string // its first stdout line
	logPath string
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	exited  chan struct{}
	waitErr error
}

// startProc starts exe args with stderr to a log file and waits for a
// first stdout line containing want. The child gets SIGTERM when the
// benchmark's context ends or stop is called.
func (b *benchHandoff) startProc(name string, args []string, want string) (*bhProc, error) {
	logPath := filepath.Join(b.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cctx, cancel := context.WithCancel(b.ctx)
	cmd := exec.CommandContext(cctx, b.exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	first := newFirstLineWriter()
	cmd.Stdout = first
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	p := &bhProc{name: name, logPath: logPath, cmd: cmd, cancel: cancel, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case p.line = <-first.line:
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", name, p.waitErr, p.logTail())
	case <-timer.C:
		p.stop()
		return nil, fmt.Errorf("%s did not start within 60s\n%s", name, p.logTail())
	case <-b.ctx.Done():
		p.stop()
		return nil, b.ctx.Err()
	}
	if !strings.Contains(p.line, want) {
		p.stop()
		return nil, fmt.Errorf("%s printed %q", name, p.line)
	}
	return p, nil
}

func (p *bhProc) stop() {
	p.cancel()
	<-p.exited
}

// logTail returns the last lines of the process's stderr.
func (p *bhProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return p.name + " log (last lines):\n  " + strings.Join(lines, "\n  ")
}

// bhNode is a `riakgo start` process.
type bhNode struct {
	*bhProc
	nodeName string
	addr     listenLine
	pprof    string // pprof address, if profiling
}

func (b *benchHandoff) startNode(label string) (*bhNode, error) {
	b.n++
	name := fmt.Sprintf("bench%d%s@127.0.0.1", b.n, label)
	dataDir := filepath.Join(b.dir, fmt.Sprintf("%d%s", b.n, label))
	gossip, err := freeTCPUDPPort()
	if err != nil {
		return nil, err
	}
	args := []string{"start", "--name", name, "--data-dir", dataDir, "--http", "127.0.0.1:0", "--pb", "off", "--cluster", "127.0.0.1:0",
		"--gossip", gossip, "--ring-size", strconv.Itoa(b.cfg.RingSize), "--log-level", b.cfg.NodeLogLevel}
	pp := ""
	if b.cfg.ProfileDir != "" {
		if pp, err = freeTCPUDPPort(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", pp)
	}
	p, err := b.startProc(fmt.Sprintf("node%d%s", b.n, label), args, "listening on ")
	if err != nil {
		return nil, err
	}
	ll, err := parseListenLine(p.line)
	if err != nil {
		p.stop()
		return nil, err
	}
	return &bhNode{bhProc: p, nodeName: name, addr: ll, pprof: pp}, nil
}

// freeTCPUDPPort returns a loopback address free for TCP and UDP
// (memberlist uses both on its gossip port).
func freeTCPUDPPort() (string, error) {
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return addr, nil
	}
	return "", errors.New("no free loopback port")
}

// call makes an HTTP request and returns status and body.
func (b *benchHandoff) call(method, url string, body []byte, ctype string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(b.ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}

// until calls check every interval until it returns nil, the phase
// timeout passes (the last error is returned) or the run is interrupted.
func (b *benchHandoff) until(what string, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(b.cfg.Timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: gave up after %v: %w", what, b.cfg.Timeout, err)
		}
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (b *benchHandoff) logf(format string, a ...any) {
	fmt.Fprintf(b.out, "%s  [load %s]  "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05"), loadAvg()}, a...)...)
}

// measure runs the whole sequence for one object size on a fresh pair.
func (b *benchHandoff) measure(size int64) (res bhResult, err error) {
	res.Size = size
	bucket := "handoff-" + strings.ReplaceAll(formatByteSize(size), " ", "")
	a, err := b.startNode("a")
	if err != nil {
		return res, fmt.Errorf("node A: %w", err)
	}
	var nb *bhNode
	defer func() {
		if err != nil && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w\n%s", err, a.logTail())
			if nb != nil {
				err = fmt.Errorf("%w\n%s", err, nb.logTail())
			}
		}
		if nb != nil {
			nb.stop()
		}
		a.stop()
	}()
	aURL := a.addr.HTTP

	// n_val 1: each object is stored once, so the bytes loaded are the
	// bytes the partitions hold.
	code, body, err := b.call("PUT", aURL+"/buckets/"+bucket+"/props", []byte(`{"props":{"n_val":1}}`), "application/json")
	if err != nil || code != 204 && code != 200 {
		return res, fmt.Errorf("set n_val 1 on %s: %d %s %v", bucket, code, bytes.TrimSpace(body), err)
	}
	n := b.cfg.objectsFor(size)
	b.logf("%s: node A %s on %s; loading %d objects of %s (%s) into bucket %s (n_val 1) with %d workers",
		formatByteSize(size), a.nodeName, aURL, n, formatByteSize(size), formatByteSize(int64(n)*size), bucket, b.cfg.Workers)
	t0 := time.Now()
	if err := b.load(aURL, bucket, size, n); err != nil {
		return res, err
	}
	res.Loaded, res.LoadTime = n, time.Since(t0)
	b.logf("%s: loaded %d objects in %.1f s (%.0f PUT/s)", formatByteSize(size), n, res.LoadTime.Seconds(), float64(n)/res.LoadTime.Seconds())

	nb, err = b.startNode("b")
	if err != nil {
		return res, fmt.Errorf("node B: %w", err)
	}
	bURL := nb.addr.HTTP
	seed, _ := json.Marshal(map[string]string{"seed": a.addr.Gossip})
	if err := b.until("cluster join", 200*time.Millisecond, func() error {
		code, body, err := b.call("POST", bURL+"/admin/cluster/join", seed, "application/json")
		if err != nil || code >= 300 {
			return fmt.Errorf("join: %d %s %v", code, bytes.TrimSpace(body), err)
		}
		return nil
	}); err != nil {
		return res, err
	}
	var plan riakhttp.PlanJSON
	if err := b.until("cluster plan", 100*time.Millisecond, func() error {
		code, body, err := b.call("GET", aURL+"/admin/cluster/plan", nil, "")
		if err != nil || code != 200 {
			return fmt.Errorf("plan: %d %s %v", code, bytes.TrimSpace(body), err)
		}
		plan = riakhttp.PlanJSON{}
		if err := json.Unmarshal(body, &plan); err != nil {
			return err
		}
		if !strings.Contains(string(body), nb.nodeName) {
			return fmt.Errorf("plan without %s: %s", nb.nodeName, body)
		}
		return nil
	}); err != nil {
		return res, err
	}
	res.Transfers = plannedTransfers(plan, a.nodeName)
	if res.Transfers == 0 {
		return res, errors.New("the plan moves no partition from A")
	}
	base, err := b.transfers(aURL, a.nodeName)
	if err != nil {
		return res, err
	}
	var profWG sync.WaitGroup
	var profErr [2]error
	commitAt := time.Now()
	code, body, err = b.call("POST", aURL+"/admin/cluster/commit", nil, "")
	if err != nil || code >= 300 {
		return res, fmt.Errorf("commit: %d %s %v", code, bytes.TrimSpace(body), err)
	}
	if b.cfg.ProfileDir != "" {
		for i, nd := range []*bhNode{a, nb} {
			role := []string{"sender", "receiver"}[i]
			path := filepath.Join(b.cfg.ProfileDir, fmt.Sprintf("handoff-%s-%s.pprof", strings.ReplaceAll(formatByteSize(size), " ", ""), role))
			profWG.Add(1)
			go func() {
				defer profWG.Done()
				profErr[i] = b.fetchProfile(nd.pprof, path)
			}()
		}
	}
	b.logf("%s: node B %s joined; committed; %d partitions move from A to B", formatByteSize(size), nb.nodeName, res.Transfers)

	// Poll A's transfers.
	var first time.Time   // earliest Started seen
	lastQuiet := commitAt // last poll before any activity was seen
	var end, prevPoll time.Time
	var last riakhttp.TransferStatusJSON
	var idle time.Duration // between polls that both saw the handoff under way, the later with nothing running
	deadline := time.Now().Add(b.cfg.Timeout)
	for {
		now := time.Now()
		st, err := b.transfers(aURL, a.nodeName)
		if err != nil {
			return res, err
		}
		active := 0
		for _, pr := range st.Active {
			if pr.Direction != riakhttp.Outbound {
				continue
			}
			active++
			if first.IsZero() || pr.Started.Before(first) {
				first = pr.Started
			}
		}
		started := active > 0 || st.Completed > base.Completed || st.Objects > base.Objects
		if !started {
			lastQuiet = now
		} else if first.IsZero() {
			// A transfer began and ended between two polls: the last
			// quiet poll bounds its start.
			first = lastQuiet
		}
		if st.Failed > base.Failed {
			return res, fmt.Errorf("%d transfers failed", st.Failed-base.Failed)
		}
		last = st
		if st.Completed-base.Completed >= int64(res.Transfers) && active == 0 {
			end = now
			break
		}
		if started {
			if active == 0 && !prevPoll.IsZero() {
				idle += now.Sub(prevPoll)
			}
			prevPoll = now
		}
		if now.After(deadline) {
			return res, fmt.Errorf("handoff not complete after %v: %d of %d transfers completed", b.cfg.Timeout, st.Completed-base.Completed, res.Transfers)
		}
		select {
		case <-b.ctx.Done():
			return res, b.ctx.Err()
		case <-time.After(b.cfg.Poll):
		}
	}
	res.Handoff, res.Idle = end.Sub(first), idle
	res.Objects, res.Bytes = last.Objects-base.Objects, last.Bytes-base.Bytes
	b.logf("%s: handoff done: %d transfers completed (%d planned), %d objects, %.1f MiB in %.2f s (first transfer started %.2f s after the commit)",
		formatByteSize(size), last.Completed-base.Completed, res.Transfers, res.Objects, float64(res.Bytes)/(1<<20), res.Handoff.Seconds(), first.Sub(commitAt).Seconds())
	if b.cfg.ProfileDir != "" {
		profWG.Wait()
		for _, e := range profErr {
			if e != nil {
				return res, fmt.Errorf("profile: %w", e)
			}
		}
	}
	nb.stop()
	a.stop()
	nb = nil
	if res.Bytes <= 0 {
		return res, errors.New("no bytes were handed off")
	}

	// The TCP copy of the same bytes, on an otherwise quiet machine (the
	// nodes are stopped).
	sinkAddr := strings.TrimSpace(b.sink.line[strings.Index(b.sink.line, "listening on ")+len("listening on "):])
	if res.TCPBigWrite, err = tcpCopyMedian(b.ctx, sinkAddr, res.Bytes, 1<<20); err != nil {
		return res, fmt.Errorf("tcp copy: %w", err)
	}
	if res.TCPObjWrite, err = tcpCopyMedian(b.ctx, sinkAddr, res.Bytes, int(size)); err != nil {
		return res, fmt.Errorf("tcp copy: %w", err)
	}
	b.logf("%s: TCP copy of %d bytes (median of %d): %.3f s in 1 MiB writes, %.3f s in %s writes", formatByteSize(size), res.Bytes, tcpCopies,
		res.TCPBigWrite.Seconds(), res.TCPObjWrite.Seconds(), formatByteSize(size))
	return res, nil
}

// transfers returns node's own status from GET /admin/transfers.
func (b *benchHandoff) transfers(url, node string) (riakhttp.TransferStatusJSON, error) {
	code, body, err := b.call("GET", url+"/admin/transfers", nil, "")
	if err != nil || code != 200 {
		return riakhttp.TransferStatusJSON{}, fmt.Errorf("GET /admin/transfers: %d %s %v", code, bytes.TrimSpace(body), err)
	}
	var tj riakhttp.TransfersJSON
	if err := json.Unmarshal(body, &tj); err != nil {
		return riakhttp.TransferStatusJSON{}, err
	}
	for _, st := range tj.Nodes {
		if string(st.Node) == node {
			return st, nil
		}
	}
	return riakhttp.TransferStatusJSON{}, fmt.Errorf("GET /admin/transfers: no status of %s", node)
}

func (b *benchHandoff) fetchProfile(addr, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, b.cfg.ProfileSeconds)
	c := &http.Client{Timeout: time.Duration(b.cfg.ProfileSeconds+30) * time.Second}
	req, err := http.NewRequestWithContext(b.ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// load PUTs n objects of size random bytes, keys k00000000…, with
// b.cfg.Workers concurrent requests.
func (b *benchHandoff) load(url, bucket string, size int64, n int) error {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < b.cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.NewChaCha8([32]byte{byte(w), byte(w >> 8), 'h', 'o'})
			val := make([]byte, size)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || failed.Load() != nil || b.ctx.Err() != nil {
					return
				}
				rng.Read(val)
				code, body, err := b.call("PUT", fmt.Sprintf("%s/buckets/%s/keys/k%08d", url, bucket, i), val, "application/octet-stream")
				if err == nil && code != 204 && code != 200 {
					err = fmt.Errorf("PUT k%08d: %d %s", i, code, bytes.TrimSpace(body))
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return *p
	}
	return b.ctx.Err()
}

// tcpCopies is how many times each TCP copy runs; the median counts.
const tcpCopies = 5

// tcpCopyMedian runs tcpCopy tcpCopies times and returns the median time.
func tcpCopyMedian(ctx context.Context, addr string, total int64, chunk int) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < tcpCopies; i++ {
		d, err := tcpCopy(ctx, addr, total, chunk)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return median(ds), nil
}

// median returns the middle of ds (the upper middle for an even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// loadAvg returns the 1, 5 and 15 minute load averages ("" where unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// tcpCopy sends total bytes to the sink in writes of chunk bytes, closes
// its side and waits for the sink's 8-byte count of what it read. It
// returns the time from the dial to that acknowledgement.
func tcpCopy(ctx context.Context, addr string, total int64, chunk int) (time.Duration, error) {
	buf := make([]byte, chunk)
	rand.NewChaCha8([32]byte{'t', 'c', 'p'}).Read(buf)
	var d net.Dialer
	t0 := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for left := total; left > 0; {
		w := buf
		if int64(len(w)) > left {
			w = w[:left]
		}
		if _, err := c.Write(w); err != nil {
			return 0, err
		}
		left -= int64(len(w))
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return 0, fmt.Errorf("sink acknowledgement: %w", err)
	}
	el := time.Since(t0)
	if got := int64(binary.BigEndian.Uint64(ack[:])); got != total {
		return 0, fmt.Errorf("sink read %d bytes, %d were sent", got, total)
	}
	return el, nil
}

// runTCPSink is the hidden `riakgo bench-handoff --tcp-sink`: it listens
// on a loopback port, prints "tcp-sink listening on ADDR", and for each
// connection reads (1 MiB reads) and discards until EOF, then answers the
// number of bytes read as 8 big-endian bytes. It runs until SIGINT/SIGTERM.
func runTCPSink(stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "riakgo bench-handoff --tcp-sink: %v\n", err)
		return 1
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	fmt.Fprintf(stdout, "tcp-sink listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintf(stderr, "riakgo bench-handoff --tcp-sink: %v\n", err)
			return 1
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 1<<20)
			var n int64
			for {
				k, err := c.Read(buf)
				n += int64(k)
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			var ack [8]byte
			binary.BigEndian.PutUint64(ack[:], uint64(n))
			c.Write(ack[:])
		}()
	}
}
