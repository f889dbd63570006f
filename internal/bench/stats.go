package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: microsecond values from 1µs to 60s, 3 significant
// figures.
const (
	histMin     = 1
	histMax     = 60_000_000
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histSigFigs)
}

// errClass is a coarse classification of a failed operation.
type errClass uint8

const (
	errHTTP     errClass = iota // unexpected HTTP status; errKey.status holds it
	errTimeout                  // request timeout or deadline
	errRefused                  // connection refused
	errReset                    // connection reset or broken pipe
	errEOF                      // server closed the connection mid-exchange
	errCanceled                 // request canceled for another reason
	errOther                    // anything else
)

// errKey identifies a kind of failure of one operation type. It is a
// comparable value so counting failures in a map does not allocate once the
// key exists.
type errKey struct {
	op     Op
	class  errClass
	status int
}

// name is the class name used in reports: "http_503", "timeout", ...
func (k errKey) name() string {
	switch k.class {
	case errHTTP:
		return "http_" + strconv.Itoa(k.status)
	case errTimeout:
		return "timeout"
	case errRefused:
		return "conn_refused"
	case errReset:
		return "conn_reset"
	case errEOF:
		return "eof"
	case errCanceled:
		return "canceled"
	default:
		return "other"
	}
}

// classify maps a transport error to its class.
func classify(err error) errClass {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return errRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return errReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errEOF
	case errors.Is(err, context.Canceled):
		return errCanceled
	default:
		return errOther
	}
}

// statSet holds what one worker recorded during (part of) one interval.
type statSet struct {
	hists [numOps]*hdrhistogram.Histogram // successful latencies in µs; nil for ops not in the mix
	errs  map[errKey]int64
}

func newStatSet(mix Mix) *statSet {
	s := &statSet{errs: make(map[errKey]int64)}
	for op := range Op(numOps) {
		if mix.has(op) {
			s.hists[op] = newHist()
		}
	}
	return s
}

func (s *statSet) reset() {
	for _, h := range s.hists {
		if h != nil {
			h.Reset()
		}
	}
	clear(s.errs)
}

// recorder is a worker's private statistics. The worker records into cur
// under mu, which is uncontended except for the instant each interval when
// the reporter swaps cur with the empty spare set; the reporter then merges
// and clears the retired set without holding the lock.
type recorder struct {
	mu    sync.Mutex
	cur   *statSet
	spare *statSet // touched only by the reporter
}

func newRecorder(mix Mix) *recorder {
	return &recorder{cur: newStatSet(mix), spare: newStatSet(mix)}
}

// success records a successful operation that took d.
func (r *recorder) success(op Op, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	} else if us > histMax {
		us = histMax
	}
	r.mu.Lock()
	_ = r.cur.hists[op].RecordValue(us) // in range by construction
	r.mu.Unlock()
}

// failure records a failed operation.
func (r *recorder) failure(k errKey) {
	r.mu.Lock()
	r.cur.errs[k]++
	r.mu.Unlock()
}

// drainInto retires the current set, merges it into w and clears it for
// re-use. Only the reporter goroutine may call it.
func (r *recorder) drainInto(w *window) {
	r.mu.Lock()
	r.cur, r.spare = r.spare, r.cur
	r.mu.Unlock()
	w.add(r.spare)
	r.spare.reset()
}

// window aggregates statistics over a span of time (one interval, or the
// whole run) across all workers.
type window struct {
	hists [numOps]*hdrhistogram.Histogram
	total *hdrhistogram.Histogram
	errs  map[errKey]int64
}

func newWindow(mix Mix) *window {
	w := &window{total: newHist(), errs: make(map[errKey]int64)}
	for op := range Op(numOps) {
		if mix.has(op) {
			w.hists[op] = newHist()
		}
	}
	return w
}

// add merges a worker's set into w's per-operation histograms and error
// counts; sumTotal must be called before w.total is used.
func (w *window) add(s *statSet) {
	for op, h := range s.hists {
		if h != nil && h.TotalCount() > 0 {
			w.hists[op].Merge(h)
		}
	}
	for k, n := range s.errs {
		w.errs[k] += n
	}
}

// sumTotal recomputes w.total from the per-operation histograms. Merging the
// few per-operation histograms once is cheaper than merging every worker's
// histograms twice.
func (w *window) sumTotal() {
	w.total.Reset()
	for _, h := range w.hists {
		if h != nil && h.TotalCount() > 0 {
			w.total.Merge(h)
		}
	}
}

// addWindow merges another window into w.
func (w *window) addWindow(o *window) {
	for op, h := range o.hists {
		if h != nil && h.TotalCount() > 0 {
			w.hists[op].Merge(h)
		}
	}
	if o.total.TotalCount() > 0 {
		w.total.Merge(o.total)
	}
	for k, n := range o.errs {
		w.errs[k] += n
	}
}

func (w *window) reset() {
	for _, h := range w.hists {
		if h != nil {
			h.Reset()
		}
	}
	w.total.Reset()
	clear(w.errs)
}

// stats summarizes the window for one operation, or for all of them when
// all is true, over a span of elapsed.
func (w *window) stats(op Op, all bool, elapsed time.Duration) Stats {
	h := w.total
	if !all {
		h = w.hists[op]
	}
	s := Stats{Ops: h.TotalCount()}
	for k, n := range w.errs {
		if all || k.op == op {
			s.Errors += n
			if s.ErrorsByClass == nil {
				s.ErrorsByClass = make(map[string]int64)
			}
			s.ErrorsByClass[k.name()] += n
		}
	}
	if elapsed > 0 {
		s.OpsPerSec = float64(s.Ops) / elapsed.Seconds()
	}
	if s.Ops > 0 {
		s.Mean = time.Duration(h.Mean() * float64(time.Microsecond))
		s.P50 = usDuration(h.ValueAtQuantile(50))
		s.P99 = usDuration(h.ValueAtQuantile(99))
		s.P999 = usDuration(h.ValueAtQuantile(99.9))
		s.Max = usDuration(h.Max())
	}
	return s
}

func usDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// Stats summarizes the operations of one kind (or all kinds) over a span of
// time. Latencies are of successful operations only.
type Stats struct {
	// Ops is the number of successful operations.
	Ops int64
	// Errors is the number of failed operations.
	Errors int64
	// OpsPerSec is Ops divided by the span's length.
	OpsPerSec float64
	// Mean, P50, P99, P999 and Max are latency statistics; an update's
	// latency covers both its GET and its PUT. HDR histograms keep three
	// significant figures.
	Mean, P50, P99, P999, Max time.Duration
	// ErrorsByClass counts failures by class: "http_<status>", "timeout",
	// "conn_refused", "conn_reset", "eof", "canceled" or "other". It is
	// nil when there were none.
	ErrorsByClass map[string]int64
}

// OpStats is the Stats of one operation type.
type OpStats struct {
	Op Op
	Stats
}

// Result is the outcome of a Run.
type Result struct {
	// Stats covers all operations together.
	Stats
	// Elapsed is the length of the timed part of the run.
	Elapsed time.Duration
	// Seed is the seed actually used (resolved when Config.Seed was 0).
	Seed int64
	// PerOp has one entry per operation with a positive weight in the mix,
	// in Op order.
	PerOp []OpStats
}

// Op returns the statistics of one operation type, and whether it was part
// of the run.
func (r *Result) Op(op Op) (Stats, bool) {
	for _, s := range r.PerOp {
		if s.Op == op {
			return s.Stats, true
		}
	}
	return Stats{}, false
}

// reporter merges the workers' statistics at each interval tick, prints
// progress lines and CSV rows, and accumulates the run's totals.
type reporter struct {
	out   io.Writer
	csv   *bufio.Writer // nil when no CSV was requested
	ops   []Op          // operations in the mix, in Op order
	recs  []*recorder
	ival  *window // current interval
	cum   *window // whole run
	start time.Time
	last  time.Time // end of the previous interval
}

// csvHeader is the first line of the CSV file.
const csvHeader = "elapsed_s,window_s,op,n,ops_per_s,mean_ms,p50_ms,p99_ms,p999_ms,max_ms,errors\n"

// intervalHeader heads the progress lines.
const intervalHeader = "elapsed      ops/s    p50(ms)    p99(ms)  p99.9(ms)    max(ms)   errors\n"

func newReporter(out io.Writer, csv *bufio.Writer, mix Mix, recs []*recorder, start time.Time) *reporter {
	rp := &reporter{out: out, csv: csv, recs: recs, ival: newWindow(mix), cum: newWindow(mix), start: start, last: start}
	for op := range Op(numOps) {
		if mix.has(op) {
			rp.ops = append(rp.ops, op)
		}
	}
	return rp
}

// tick closes the interval ending at now: it collects the workers' sets,
// prints a progress line, writes CSV rows and folds the interval into the
// cumulative window. It returns the CSV write error, if any.
func (rp *reporter) tick(now time.Time) error {
	rp.collect()
	span := now.Sub(rp.last)
	elapsed := now.Sub(rp.start)
	rp.last = now

	t := rp.ival.stats(0, true, span)
	fmt.Fprintf(rp.out, "%6.1fs %10.1f %10.3f %10.3f %10.3f %10.3f %8d\n",
		elapsed.Seconds(), t.OpsPerSec, ms(t.P50), ms(t.P99), ms(t.P999), ms(t.Max), t.Errors)

	var err error
	if rp.csv != nil {
		for _, op := range rp.ops {
			writeCSVRow(rp.csv, elapsed, span, op.String(), rp.ival.stats(op, false, span))
		}
		writeCSVRow(rp.csv, elapsed, span, "total", t)
		err = rp.csv.Flush()
	}
	rp.cum.addWindow(rp.ival)
	rp.ival.reset()
	return err
}

// collect moves everything the workers recorded since the last call into
// the interval window.
func (rp *reporter) collect() {
	for _, r := range rp.recs {
		r.drainInto(rp.ival)
	}
	rp.ival.sumTotal()
}

// finish closes the last, partial interval at end. A remainder shorter than
// a millisecond after a full interval is folded into the totals without a
// progress line of its own.
func (rp *reporter) finish(end time.Time) error {
	if end.Sub(rp.last) >= time.Millisecond || rp.last.Equal(rp.start) {
		return rp.tick(end)
	}
	rp.collect()
	rp.cum.addWindow(rp.ival)
	rp.ival.reset()
	return nil
}

func writeCSVRow(w *bufio.Writer, elapsed, span time.Duration, op string, s Stats) {
	fmt.Fprintf(w, "%.3f,%.3f,%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%d\n",
		elapsed.Seconds(), span.Seconds(), op, s.Ops, s.OpsPerSec,
		ms(s.Mean), ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max), s.Errors)
}

// result summarizes the whole run.
func (rp *reporter) result(elapsed time.Duration, seed int64) *Result {
	res := &Result{Stats: rp.cum.stats(0, true, elapsed), Elapsed: elapsed, Seed: seed}
	for _, op := range rp.ops {
		res.PerOp = append(res.PerOp, OpStats{Op: op, Stats: rp.cum.stats(op, false, elapsed)})
	}
	return res
}

// ms converts d to fractional milliseconds for display.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteSummary prints a per-operation and total summary table of r to w.
func WriteSummary(w io.Writer, r *Result) {
	fmt.Fprintf(w, "summary: %.1fs, %d ops, %.1f ops/s, %d errors (seed %d)\n",
		r.Elapsed.Seconds(), r.Ops, r.OpsPerSec, r.Errors, r.Seed)
	fmt.Fprintf(w, "%-8s %10s %10s %9s %9s %9s %9s %9s %8s\n",
		"op", "n", "ops/s", "mean(ms)", "p50(ms)", "p99(ms)", "p99.9(ms)", "max(ms)", "errors")
	row := func(name string, s Stats) {
		fmt.Fprintf(w, "%-8s %10d %10.1f %9.3f %9.3f %9.3f %9.3f %9.3f %8d\n",
			name, s.Ops, s.OpsPerSec, ms(s.Mean), ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max), s.Errors)
	}
	for _, s := range r.PerOp {
		row(s.Op.String(), s.Stats)
	}
	row("total", r.Stats)
	for _, s := range r.PerOp {
		for _, class := range slices.Sorted(maps.Keys(s.ErrorsByClass)) {
			fmt.Fprintf(w, "errors: %s %s=%d\n", s.Op, class, s.ErrorsByClass[class])
		}
	}
}

// WriteComparison prints the results of the same workload against the
// server under test (measured, labelled name) and against the bare ceiling
// server, with the ratios name/ceiling ops/s and name p99 / ceiling p99.
func WriteComparison(w io.Writer, name string, measured, ceiling *Result) {
	fmt.Fprintf(w, "comparison (same workload, seed %d):\n", measured.Seed)
	fmt.Fprintf(w, "%-10s %12s %10s %10s %8s\n", "server", "ops/s", "p50(ms)", "p99(ms)", "errors")
	for _, r := range []struct {
		name string
		res  *Result
	}{{name, measured}, {"ceiling", ceiling}} {
		fmt.Fprintf(w, "%-10s %12.1f %10.3f %10.3f %8d\n",
			r.name, r.res.OpsPerSec, ms(r.res.P50), ms(r.res.P99), r.res.Errors)
	}
	fmt.Fprintf(w, "%s/ceiling ops/s: %s\n", name, ratio(measured.OpsPerSec, ceiling.OpsPerSec))
	fmt.Fprintf(w, "%s p99 / ceiling p99: %s\n", name, ratio(float64(measured.P99), float64(ceiling.P99)))
}

// ratio formats a/b, or "n/a" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 3, 64)
}
