package bench

import (
	"github.com/riakgo/riakgo/client"

	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// VclockHeader is the Riak HTTP header carrying an object's causal context.
const VclockHeader = "X-Riak-Vclock"

// contentType is the content type of the values the benchmark writes.
const contentType = "application/octet-stream"

// Headers shared by all requests. The transport only reads them, so one map
// each serves every worker.
var (
	getHeader = http.Header{}
	putHeader = http.Header{"Content-Type": {contentType}}
)

// runner is the state shared by all workers of one run.
type runner struct {
	cfg    Config
	client *http.Client
	rc     *client.Client // riakgo's Go client over the same *http.Client
	base   url.URL        // scheme, host and user info of cfg.URL
	prefix string         // escaped request path up to and including ".../keys/"
	mix    []MixEntry
	total  int // sum of the mix's weights

	// stop is set when the timed run ends; workers poll it between
	// operations, which is cheaper than checking a context.
	stop atomic.Bool
}

func newRunner(cfg Config) (*runner, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	var p strings.Builder
	p.WriteString(strings.TrimRight(u.EscapedPath(), "/"))
	if cfg.Type != "" {
		p.WriteString("/types/")
		p.WriteString(url.PathEscape(cfg.Type))
	}
	p.WriteString("/buckets/")
	p.WriteString(url.PathEscape(cfg.Bucket))
	p.WriteString("/keys/")

	hc, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	r := &runner{
		cfg:    cfg,
		client: hc,
		base:   url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User},
		prefix: p.String(),
	}
	if r.rc, err = client.New(cfg.URL, client.WithHTTPClient(r.client), client.WithBasicAuth(cfg.User, cfg.Password)); err != nil {
		return nil, err
	}
	for _, e := range cfg.Mix {
		if e.Weight > 0 {
			r.mix = append(r.mix, e)
			r.total += e.Weight
		}
	}
	return r, nil
}

// newClient returns an HTTP/1.1 client that keeps one idle keep-alive
// connection per worker, never uses a proxy, never asks for compression and
// never follows redirects.
func newClient(cfg Config) (*http.Client, error) {
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	var tc *tls.Config
	if cfg.CACert != "" {
		b, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, err
		}
		tc = &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
		if !tc.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", cfg.CACert)
		}
	}
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     tc,
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConns:        cfg.Workers,
			MaxIdleConnsPerHost: cfg.Workers,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: cfg.Timeout,
			DisableCompression:  true,
		},
		Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// worker is one closed-loop client: it issues one operation at a time.
type worker struct {
	run   *runner
	rng   *rand.Rand
	keys  *keyGen
	value []byte
	tmpl  *http.Request // empty request carrying the context for requests
	rec   *recorder
	pb    *pbConn // the worker's PB connection (Config.PB), dialled on use
}

func newWorker(r *runner, id int, seed int64) *worker {
	// Each worker has its own deterministic stream derived from the seed.
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(id)))
	w := &worker{
		run:   r,
		rng:   rng,
		keys:  newKeyGen(r.cfg.KeyGen, r.cfg.Keys, rng),
		value: make([]byte, r.cfg.ValueSize),
		rec:   newRecorder(r.cfg.Mix),
	}
	for i := 0; i < len(w.value); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(w.value); j++ {
			w.value[i+j] = byte(v >> (8 * j))
		}
	}
	return w
}

// setContext makes subsequent requests of w use ctx.
func (w *worker) setContext(ctx context.Context) {
	w.tmpl = new(http.Request).WithContext(ctx)
}

// roundTrip sends one request for key, reads and discards the whole response
// body so the connection can be re-used, and returns the status code and,
// when wantVclock is set, the X-Riak-Vclock response header.
func (w *worker) roundTrip(method string, key int64, withBody bool, hdr http.Header, wantVclock bool) (status int, vclock string, err error) {
	// Requests go through riakgo's Go client (Exchange: the object request
	// with no interpretation of the answer), over the runner's tuned
	// *http.Client.
	if w.run.cfg.PB != "" {
		return w.pbRoundTrip(method, key, withBody, hdr.Get(VclockHeader), wantVclock)
	}
	loc := client.Loc{Type: w.run.cfg.Type, Bucket: w.run.cfg.Bucket, Key: strconv.FormatInt(key, 10)}
	var body []byte
	if withBody {
		body = w.value
		if body == nil {
			body = []byte{}
		}
	}
	status, vclock, err = w.run.rc.Exchange(w.tmpl.Context(), method, loc, body, reqContentType(hdr), hdr.Get(VclockHeader))
	if !wantVclock {
		vclock = ""
	}
	return status, vclock, err
}

// reqContentType is the Content-Type of a request header set (the bench's
// values are opaque bytes).
func reqContentType(h http.Header) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// pickOp draws the next operation from the mix.
func (w *worker) pickOp() Op {
	n := w.rng.IntN(w.run.total)
	for _, e := range w.run.mix {
		if n < e.Weight {
			return e.Op
		}
		n -= e.Weight
	}
	return w.run.mix[len(w.run.mix)-1].Op // not reached
}

// getOK reports whether status is a successful answer to a GET: Riak
// answers 300 when there are siblings and 404 for missing keys.
func getOK(status int) bool {
	return status == http.StatusOK || status == http.StatusMultipleChoices || status == http.StatusNotFound
}

// do performs one operation on key. ok reports success; otherwise fail
// describes the failure.
func (w *worker) do(op Op, key int64) (ok bool, fail errKey) {
	var (
		status int
		err    error
	)
	switch op {
	case OpGet:
		status, _, err = w.roundTrip(http.MethodGet, key, false, getHeader, false)
		ok = getOK(status)
	case OpPut:
		status, _, err = w.roundTrip(http.MethodPut, key, true, putHeader, false)
		ok = status >= 200 && status < 300
	case OpDelete:
		status, _, err = w.roundTrip(http.MethodDelete, key, false, getHeader, false)
		ok = status >= 200 && status < 300 || status == http.StatusNotFound
	case OpUpdate:
		// Like basho_bench's http_raw update: fetch, then write back with
		// the fetched vclock (none if the key does not exist yet).
		var vclock string
		status, vclock, err = w.roundTrip(http.MethodGet, key, false, getHeader, true)
		if err == nil && getOK(status) {
			hdr := putHeader
			if vclock != "" {
				hdr = http.Header{"Content-Type": putHeader["Content-Type"], VclockHeader: {vclock}}
			}
			status, _, err = w.roundTrip(http.MethodPut, key, true, hdr, false)
			ok = status >= 200 && status < 300
		}
	}
	switch {
	case err != nil:
		return false, errKey{op: op, class: classify(err)}
	case !ok:
		return false, errKey{op: op, class: errHTTP, status: status}
	}
	return true, errKey{}
}

// loop runs operations until the run is stopped.
func (w *worker) loop() {
	ctx := w.tmpl.Context()
	for !w.run.stop.Load() {
		op := w.pickOp()
		key := w.keys.next()
		start := time.Now()
		ok, fail := w.do(op, key)
		d := time.Since(start)
		switch {
		case ok:
			w.rec.success(op, d)
		case ctx.Err() != nil:
			// Aborted because the run ended or was canceled: neither a
			// success nor the server's fault.
		default:
			w.rec.failure(fail)
		}
	}
}

// preload writes keys 1..n (blind PUTs, not timed) using all workers, and
// returns the first failure.
func (r *runner) preload(ctx context.Context, workers []*worker, n int) error {
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for _, w := range workers {
		w.setContext(ctx)
		wg.Go(func() {
			for !failed.Load() {
				key := next.Add(1)
				if key > int64(n) {
					return
				}
				status, _, err := w.roundTrip(http.MethodPut, key, true, putHeader, false)
				if err == nil && (status < 200 || status > 299) {
					err = fmt.Errorf("HTTP status %d", status)
				}
				if err != nil {
					failed.Store(true)
					errOnce.Do(func() { first = fmt.Errorf("preload key %d: %w", key, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Run benchmarks the server at cfg.URL: after the optional preload it runs
// cfg.Workers closed-loop workers for cfg.Duration, writing a progress line to
// out (nil discards output) every cfg.Interval and a summary at the end, and
// CSV rows to cfg.CSV if set.
//
// If ctx is canceled during the timed run, Run stops early and returns the
// partial result together with ctx's error. Failed operations are counted in
// the result, not returned as an error.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench: invalid config: %w", err)
	}
	if out == nil {
		out = io.Discard
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.client.CloseIdleConnections()

	var csv *bufio.Writer
	if cfg.CSV != "" {
		f, err := os.Create(cfg.CSV)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		csv = bufio.NewWriter(f)
		if _, err := csv.WriteString(csvHeader); err != nil {
			return nil, fmt.Errorf("bench: writing %s: %w", cfg.CSV, err)
		}
	}

	workers := make([]*worker, cfg.Workers)
	recs := make([]*recorder, cfg.Workers)
	for i := range workers {
		workers[i] = newWorker(r, i, cfg.Seed)
		recs[i] = workers[i].rec
	}

	defer func() {
		for _, w := range workers {
			if w.pb != nil {
				w.pb.nc.Close()
			}
		}
	}()

	path := r.prefix + "K"
	if cfg.PB != "" {
		r.base = url.URL{Scheme: "pb", Host: cfg.PB}
		path = " (Protocol Buffers) type=" + cfg.Type + " bucket=" + cfg.Bucket
	}
	fmt.Fprintf(out, "bench: %s://%s%s workers=%d duration=%v keys=%d keygen=%s value-size=%d mix=%s seed=%d\n",
		r.base.Scheme, r.base.Host, path, cfg.Workers, cfg.Duration, cfg.Keys, cfg.KeyGen, cfg.ValueSize, cfg.Mix, cfg.Seed)

	if cfg.Preload > 0 {
		t0 := time.Now()
		if err := r.preload(ctx, workers, cfg.Preload); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("bench: %w", err)
		}
		fmt.Fprintf(out, "preloaded %d keys in %.1fs\n", cfg.Preload, time.Since(t0).Seconds())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	start := time.Now()
	deadline := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	stopped := context.AfterFunc(runCtx, func() { r.stop.Store(true) })
	defer stopped()

	rep := newReporter(out, csv, cfg.Mix, recs, start)
	fmt.Fprint(out, intervalHeader)

	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range workers {
		w.setContext(runCtx)
		wg.Go(w.loop)
	}
	go func() {
		wg.Wait()
		close(done)
	}()

	var csvErr error
	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()
	for running := true; running; {
		select {
		case <-ticker.C:
			now := time.Now()
			if deadline.Sub(now) < cfg.Interval/4 {
				// The run is about to end; let the final report cover
				// the rest of this interval rather than a sliver.
				continue
			}
			if err := rep.tick(now); err != nil && csvErr == nil {
				csvErr = err
			}
		case <-done:
			running = false
		}
	}
	end := time.Now()
	if err := rep.finish(end); err != nil && csvErr == nil {
		csvErr = err
	}

	res := rep.result(end.Sub(start), cfg.Seed)
	fmt.Fprintln(out)
	WriteSummary(out, res)
	if csvErr != nil {
		return res, fmt.Errorf("bench: writing %s: %w", cfg.CSV, csvErr)
	}
	return res, ctx.Err()
}
