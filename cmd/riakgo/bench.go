package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/riakgo/riakgo/internal/bench"
)

// bareStartTimeout bounds how long `bench --ceiling` waits for the bare
// server process to start listening and answer its first request.
const bareStartTimeout = 10 * time.Second

// runBench implements `riakgo bench`: a basho_bench-style HTTP load test
// against --url, optionally followed (or preceded, with --ceiling-first) by
// the identical workload against a bare net/http server in a child process,
// so riakgo's throughput and latency can be read as a fraction of the
// machine's ceiling. It returns the process exit code: 0 on success, 1 if a
// run failed, was interrupted or had no successful operation, 2 for bad
// flags.
func runBench(args []string, stdout, stderr io.Writer) int {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", cfg.URL, "base `URL` of the server's HTTP interface")
	fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "`bucket` to read and write")
	fs.StringVar(&cfg.Type, "type", cfg.Type, "bucket `type`; when set, paths are /types/T/buckets/B/keys/K")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "number of concurrent workers, each with one request in flight")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the timed run")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "progress report interval")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "key space size; keys are 1..`N`")
	fs.StringVar(&cfg.KeyGen, "keygen", cfg.KeyGen, "key distribution: pareto (basho_bench truncated_pareto_int) or uniform")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "size of written values in `bytes`")
	fs.Var(&cfg.Mix, "mix", "operation `mix` op:weight,... with ops get, update (GET then PUT with vclock), put (blind) and delete")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; 0 derives one from the clock")
	fs.StringVar(&cfg.CSV, "csv", cfg.CSV, "write per-interval statistics to this CSV `file` (the ceiling run gets FILE.ceiling.csv)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout")
	fs.IntVar(&cfg.Preload, "preload", cfg.Preload, "PUT keys 1..`N` before the timed run")
	fs.StringVar(&cfg.User, "user", "", "`user` for Basic credentials (a node with security on; use an https:// --url)")
	fs.StringVar(&cfg.Password, "password", os.Getenv("RIAKGO_PASSWORD"), "password of --user (env RIAKGO_PASSWORD)")
	fs.StringVar(&cfg.CACert, "cacert", "", "PEM `file` of the CA that signed the node's certificate (https:// --url)")
	protocol := fs.String("protocol", "http", "`protocol` of the measured run: http (--url) or pb (Riak's Protocol Buffers API at --pb); the ceiling is always bare HTTP")
	pbAddr := fs.String("pb", "127.0.0.1:8087", "`host:port` of the Protocol Buffers API (with --protocol pb)")
	ceiling := fs.Bool("ceiling", false, "also run the identical workload against a bare net/http server (riakgo bench-bare) and compare")
	ceilingFirst := fs.Bool("ceiling-first", false, "run the ceiling before --url (implies --ceiling)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: riakgo bench [flags]\n\n"+
			"Benchmarks a Riak-compatible HTTP interface with a basho_bench-style workload.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "riakgo bench: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	switch *protocol {
	case "http":
	case "pb":
		cfg.PB = *pbAddr
	default:
		fmt.Fprintf(stderr, "riakgo bench: --protocol %q: want http or pb\n", *protocol)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "riakgo bench: %v\n", err)
		return 2
	}
	if cfg.Seed == 0 {
		// Resolve the seed here so the ceiling run replays the same sequences.
		cfg.Seed = time.Now().UnixNano()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if !*ceiling && !*ceilingFirst {
		res, err := bench.Run(ctx, cfg, stdout)
		return benchExit(stderr, "riakgo", res, err)
	}

	var measured, ceil *bench.Result
	runReal := func() int {
		if cfg.PB != "" {
			fmt.Fprintf(stdout, "== riakgo at pb://%s ==\n", cfg.PB)
		} else {
			fmt.Fprintf(stdout, "== riakgo at %s ==\n", cfg.URL)
		}
		res, err := bench.Run(ctx, cfg, stdout)
		measured = res
		return benchExit(stderr, "riakgo", res, err)
	}
	runCeiling := func() int {
		bare, err := startBare(ctx, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "riakgo bench: ceiling: %v\n", err)
			return 1
		}
		defer bare.stop()
		c := cfg
		c.URL, c.PB = bare.url, ""
		if c.CSV != "" {
			c.CSV = ceilingCSV(c.CSV)
		}
		fmt.Fprintf(stdout, "== ceiling: bare net/http server at %s (pid %d) ==\n", bare.url, bare.cmd.Process.Pid)
		res, err := bench.Run(ctx, c, stdout)
		ceil = res
		return benchExit(stderr, "ceiling", res, err)
	}
	first, second := runReal, runCeiling
	if *ceilingFirst {
		first, second = runCeiling, runReal
	}
	if code := first(); code != 0 {
		return code
	}
	fmt.Fprintln(stdout)
	if code := second(); code != 0 {
		return code
	}
	fmt.Fprintln(stdout)
	bench.WriteComparison(stdout, "riakgo", measured, ceil)
	return 0
}

// benchExit reports the outcome of one bench.Run and returns the exit code.
func benchExit(stderr io.Writer, name string, res *bench.Result, err error) int {
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "riakgo bench: %s run interrupted\n", name)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "riakgo bench: %s: %v\n", name, err)
		return 1
	case res.Ops == 0:
		fmt.Fprintf(stderr, "riakgo bench: %s: no operation succeeded (%d errors)\n", name, res.Errors)
		return 1
	}
	return 0
}

// ceilingCSV derives the ceiling run's CSV path from the main one:
// out.csv becomes out.ceiling.csv.
func ceilingCSV(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".ceiling" + ext
}

// bareProcess is a running `riakgo bench-bare` child process.
type bareProcess struct {
	cmd     *exec.Cmd
	url     string
	cancel  context.CancelFunc // stops the child
	exited  chan struct{}      // closed once the child has been waited for
	waitErr error              // cmd.Wait's result, valid once exited is closed
}

// startBare starts `riakgo bench-bare` on an ephemeral port, learns the
// port from the first line the child prints once it is listening, and
// checks that it answers HTTP, all within bareStartTimeout. The child is
// stopped with SIGTERM (and killed if it lingers) when ctx is done or stop
// is called.
func startBare(ctx context.Context, stderr io.Writer) (*bareProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	childCtx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(childCtx, exe, "bench-bare", "--listen", "127.0.0.1:0")
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	first := newFirstLineWriter()
	cmd.Stdout = first
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	p := &bareProcess{cmd: cmd, cancel: cancel, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	// From here on, failures must stop the child.
	fail := func(err error) (*bareProcess, error) {
		p.stop()
		return nil, err
	}
	timer := time.NewTimer(bareStartTimeout)
	defer timer.Stop()
	var line string
	select {
	case line = <-first.line:
	case <-p.exited:
		return fail(fmt.Errorf("bench-bare exited before listening: %v", p.waitErr))
	case <-timer.C:
		return fail(fmt.Errorf("bench-bare did not start listening within %v", bareStartTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://") {
		return fail(fmt.Errorf("unexpected bench-bare output %q", line))
	}
	p.url = url

	// The listener is open before the line is printed; one request with a
	// deadline confirms that the server answers.
	reqCtx, cancelReq := context.WithTimeout(ctx, bareStartTimeout)
	defer cancelReq()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url+"/buckets/ping/keys/ping", nil)
	if err != nil {
		return fail(err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fail(fmt.Errorf("bench-bare does not answer: %w", err))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		return fail(fmt.Errorf("bench-bare answered %s to a probe for a missing key", resp.Status))
	}
	return p, nil
}

// stop terminates the child and waits for it to exit.
func (p *bareProcess) stop() {
	p.cancel()
	<-p.exited
}

// firstLineWriter is an io.Writer that delivers the first line written to
// it on the line channel and discards everything else.
type firstLineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	line chan string
}

func newFirstLineWriter() *firstLineWriter {
	return &firstLineWriter{line: make(chan string, 1)}
}

// Write implements io.Writer.
func (w *firstLineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(b), nil
	}
	w.buf.Write(b)
	if i := bytes.IndexByte(w.buf.Bytes(), '\n'); i >= 0 {
		w.line <- string(w.buf.Bytes()[:i])
		w.sent = true
		w.buf = bytes.Buffer{}
	}
	return len(b), nil
}

// runBenchBare implements `riakgo bench-bare`: it serves
// bench.NewBareServer, the ceiling for `riakgo bench --ceiling`, on --listen
// until SIGINT or SIGTERM. Once listening it prints
// "bench-bare: listening on http://ADDR" to stdout and, with --port-file,
// writes the port number to that file (atomically, via a rename). It returns
// the process exit code: 0 after a clean shutdown, 1 on errors, 2 for bad
// flags.
func runBenchBare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8097", "`address` to listen on; port 0 picks a free port")
	portFile := fs.String("port-file", "", "once listening, write the port number to this `file`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: riakgo bench-bare [flags]\n\n"+
			"Serves an in-memory bare HTTP key/value handler, the ceiling for riakgo bench.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "riakgo bench-bare: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo bench-bare: %v\n", err)
		return 1
	}
	if *portFile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		if err := writeFileAtomic(*portFile, []byte(strconv.Itoa(port)+"\n")); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "riakgo bench-bare: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "bench-bare: listening on http://%s\n", ln.Addr())

	srv := &http.Server{Handler: bench.NewBareServer(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "riakgo bench-bare: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	return 0
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place, so a reader never sees a partial file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".port-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
