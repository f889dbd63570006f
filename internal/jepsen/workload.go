package jepsen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/riakgo/riakgo/client"
)

// Kind is a workload.
type Kind string

// The workloads.
const (
	KindSet     Kind = "allow_mult set"
	KindDTSet   Kind = "data-type set"
	KindCounter Kind = "counter"
	KindLWW     Kind = "lww unique key"
)

// Kinds lists the workloads in report order.
var Kinds = []Kind{KindSet, KindDTSet, KindCounter, KindLWW}

// Bucket types of the workloads.
const (
	TypeSet     = "jset"
	TypeDTSet   = "jdtset"
	TypeCounter = "jcounter"
	TypeLWW     = "jlww"
	bucket      = "jepsen"
)

// Outcome is what a client learned of an operation.
type Outcome uint8

// Outcomes.
const (
	OK            Outcome = iota + 1 // acknowledged
	Fail                             // certainly not applied
	Indeterminate                    // may or may not have been applied
)

// Op is one operation of the history.
type Op struct {
	Kind    Kind
	Key     string
	Value   string // the element added, or the LWW value
	Node    int
	Outcome Outcome
	Err     string
}

// ErrRefused is what a connection to a node that is not running gives in
// the in-process cluster (a refused TCP connection, for the checker).
var ErrRefused = errors.New("jepsen: connection refused")

// Config configures a workload.
type Config struct {
	// Seed drives every random choice of the clients.
	Seed uint64
	// Clients is the number of concurrent clients (default 4).
	Clients int
	// Keys is the number of keys of each of the set and counter workloads
	// (default 4).
	Keys int
	// Timeout is the server-side timeout of each request (default 2 s).
	Timeout time.Duration
}

func (c *Config) defaults() {
	if c.Clients <= 0 {
		c.Clients = 4
	}
	if c.Keys <= 0 {
		c.Keys = 4
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
}

// Workload runs the clients and records the history. Node i's client is
// Nodes[i].
type Workload struct {
	cfg   Config
	nodes []*client.Client

	mu      sync.Mutex
	history []Op
	lwwSeq  int
}

// New returns a workload over the nodes' clients.
func New(cfg Config, nodes []*client.Client) *Workload {
	cfg.defaults()
	return &Workload{cfg: cfg, nodes: nodes}
}

// Setup creates and activates the workloads' bucket types through node 0
// (each call is retried until ctx ends: a cluster may still be settling).
func Setup(ctx context.Context, c *client.Client) error {
	types := []struct {
		name  string
		props map[string]any
	}{
		{TypeSet, map[string]any{"allow_mult": true}},
		{TypeDTSet, map[string]any{"datatype": "set"}},
		{TypeCounter, map[string]any{"datatype": "counter"}},
		{TypeLWW, map[string]any{"allow_mult": false, "last_write_wins": true, "dvv_enabled": false}},
	}
	for _, t := range types {
		if _, err := c.CreateType(ctx, t.name, t.props); err != nil {
			return fmt.Errorf("create %s: %w", t.name, err)
		}
		if _, err := c.ActivateType(ctx, t.name); err != nil {
			return fmt.Errorf("activate %s: %w", t.name, err)
		}
	}
	return nil
}

// Run runs the clients until ctx ends.
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(w.cfg.Seed, uint64(i)+1))
			for n := 0; ctx.Err() == nil; n++ {
				w.one(ctx, rnd, i, n)
			}
		}()
	}
	wg.Wait()
}

// Step runs one operation of client i (a driver that interleaves
// operations with faults itself calls it instead of Run).
func (w *Workload) Step(ctx context.Context, rnd *rand.Rand, i, n int) { w.one(ctx, rnd, i, n) }

func (w *Workload) one(ctx context.Context, rnd *rand.Rand, i, n int) {
	node := rnd.IntN(len(w.nodes))
	c := w.nodes[node]
	kind := Kinds[rnd.IntN(len(Kinds))]
	op := Op{Kind: kind, Node: node}
	rctx, cancel := context.WithTimeout(ctx, 3*w.cfg.Timeout)
	defer cancel()
	switch kind {
	case KindSet:
		op.Key, op.Value = fmt.Sprintf("s%d", rnd.IntN(w.cfg.Keys)), fmt.Sprintf("c%d-%d", i, n)
		op.Outcome, op.Err = w.setAdd(rctx, c, op.Key, op.Value)
	case KindDTSet:
		op.Key, op.Value = fmt.Sprintf("d%d", rnd.IntN(w.cfg.Keys)), fmt.Sprintf("c%d-%d", i, n)
		_, err := c.UpdateSet(rctx, client.Loc{Type: TypeDTSet, Bucket: bucket, Key: op.Key}, []string{op.Value}, nil, "", w.dtOpts())
		op.Outcome, op.Err = classify(err, true)
	case KindCounter:
		op.Key, op.Value = fmt.Sprintf("n%d", rnd.IntN(w.cfg.Keys)), "1"
		_, err := c.UpdateCounter(rctx, client.Loc{Type: TypeCounter, Bucket: bucket, Key: op.Key}, 1, w.dtOpts())
		op.Outcome, op.Err = classify(err, true)
	case KindLWW:
		w.mu.Lock()
		w.lwwSeq++
		seq := w.lwwSeq
		w.mu.Unlock()
		op.Key, op.Value = fmt.Sprintf("l%d", seq), fmt.Sprintf("v%d-%d-%d", i, n, rnd.Uint32())
		_, err := c.Put(rctx, client.Loc{Type: TypeLWW, Bucket: bucket, Key: op.Key},
			client.Content{Value: []byte(op.Value), ContentType: "text/plain"}, "", &client.PutOptions{Timeout: w.cfg.Timeout})
		op.Outcome, op.Err = classify(err, true)
	}
	if ctx.Err() != nil && op.Outcome != OK {
		op.Outcome = Indeterminate // cut short by the end of the run
	}
	w.mu.Lock()
	w.history = append(w.history, op)
	w.mu.Unlock()
}

func (w *Workload) dtOpts() *client.DatatypeOptions {
	return &client.DatatypeOptions{Timeout: w.cfg.Timeout}
}

// setAdd reads the allow_mult set, unions its siblings, adds e and writes
// the result back with the read's causal context.
func (w *Workload) setAdd(ctx context.Context, c *client.Client, key, e string) (Outcome, string) {
	loc := client.Loc{Type: TypeSet, Bucket: bucket, Key: key}
	var vc string
	var elems []string
	obj, err := c.Get(ctx, loc, &client.GetOptions{Timeout: w.cfg.Timeout})
	var nf *client.NotFoundError
	switch {
	case errors.As(err, &nf):
		vc = nf.VClock
	case err != nil:
		return Fail, "read: " + err.Error() // nothing was written
	default:
		vc = obj.VClock
		elems = unionSiblings(obj)
	}
	if !slices.Contains(elems, e) {
		elems = append(elems, e)
	}
	sort.Strings(elems)
	body, _ := json.Marshal(elems)
	_, err = c.Put(ctx, loc, client.Content{Value: body, ContentType: "application/json"}, vc, &client.PutOptions{Timeout: w.cfg.Timeout})
	return classify(err, true)
}

// unionSiblings returns the union of the JSON string arrays of obj's
// siblings (tombstones and unreadable values contribute nothing).
func unionSiblings(obj *client.Object) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range obj.Siblings {
		var l []string
		if json.Unmarshal(s.Value, &l) != nil {
			continue
		}
		for _, e := range l {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// classify turns a request's error into an outcome.
func classify(err error, write bool) (Outcome, string) {
	if err == nil {
		return OK, ""
	}
	var ce *client.Error
	switch {
	case errors.Is(err, ErrRefused), errors.Is(err, syscall.ECONNREFUSED):
		return Fail, err.Error()
	case errors.As(err, &ce) && ce.Status >= 400 && ce.Status < 500 && ce.Status != 408:
		return Fail, err.Error()
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return Fail, err.Error()
	}
	return Indeterminate, err.Error()
}

// History returns the operations recorded so far.
func (w *Workload) History() []Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.history)
}

// Stat counts one workload's operations and the checker's findings.
type Stat struct {
	OK, Failed, Indeterminate int
	// Lost: acknowledged writes missing from the final state.
	Lost int
	// Unexpected: values in the final state no client tried to write.
	Unexpected int
	// Unreadable: final reads that failed.
	Unreadable int
	// Examples of findings, for the report.
	Examples []string
}

// Result is the checkers' verdict.
type Result struct {
	Stats map[Kind]*Stat
}

// Valid reports whether nothing acknowledged was lost, nothing unexpected
// was read and every final read succeeded.
func (r Result) Valid() bool {
	for _, s := range r.Stats {
		if s.Lost > 0 || s.Unexpected > 0 || s.Unreadable > 0 {
			return false
		}
	}
	return true
}

// String is a one-line-per-workload summary.
func (r Result) String() string {
	var out string
	for _, k := range Kinds {
		s := r.Stats[k]
		out += fmt.Sprintf("%-15s ok %5d  failed %5d  indeterminate %5d  lost %d  unexpected %d  unreadable %d\n",
			k, s.OK, s.Failed, s.Indeterminate, s.Lost, s.Unexpected, s.Unreadable)
		for _, e := range s.Examples {
			out += "    " + e + "\n"
		}
	}
	return out
}

func (s *Stat) example(format string, args ...any) {
	if len(s.Examples) < 5 {
		s.Examples = append(s.Examples, fmt.Sprintf(format, args...))
	}
}

// Check reads the final state through c (every replica: r=all, pr=all)
// and judges the history against it. A final read that fails is tried
// again up to retries times (with a growing pause: real processes may
// still be settling), then counted as unreadable.
func Check(ctx context.Context, c *client.Client, history []Op, retries int) Result {
	res := Result{Stats: map[Kind]*Stat{}}
	for _, k := range Kinds {
		res.Stats[k] = &Stat{}
	}
	byKey := map[Kind]map[string][]Op{}
	for _, op := range history {
		s := res.Stats[op.Kind]
		switch op.Outcome {
		case OK:
			s.OK++
		case Fail:
			s.Failed++
		default:
			s.Indeterminate++
		}
		if byKey[op.Kind] == nil {
			byKey[op.Kind] = map[string][]Op{}
		}
		byKey[op.Kind][op.Key] = append(byKey[op.Kind][op.Key], op)
	}
	all := &client.GetOptions{R: client.All, PR: client.All}
	dtAll := &client.DatatypeOptions{R: client.All, PR: client.All}
	for _, kind := range Kinds {
		s := res.Stats[kind]
		keys := make([]string, 0, len(byKey[kind]))
		for k := range byKey[kind] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			ops := byKey[kind][key]
			var final []string // elements, or the LWW value
			var count int64
			err := retry(ctx, retries, func() error {
				var err error
				switch kind {
				case KindSet:
					var obj *client.Object
					obj, err = c.Get(ctx, client.Loc{Type: TypeSet, Bucket: bucket, Key: key}, all)
					if err == nil {
						final = unionSiblings(obj)
					}
				case KindLWW:
					var obj *client.Object
					obj, err = c.Get(ctx, client.Loc{Type: TypeLWW, Bucket: bucket, Key: key}, all)
					if err == nil {
						final = nil
						for _, sib := range obj.Siblings {
							final = append(final, string(sib.Value))
						}
					}
				case KindDTSet:
					var d *client.Datatype
					d, err = c.FetchDatatype(ctx, client.Loc{Type: TypeDTSet, Bucket: bucket, Key: key}, dtAll)
					if err == nil {
						final = nil
						err = d.Decode(&final)
					}
				case KindCounter:
					var d *client.Datatype
					d, err = c.FetchDatatype(ctx, client.Loc{Type: TypeCounter, Bucket: bucket, Key: key}, dtAll)
					if err == nil {
						err = d.Decode(&count)
					}
				}
				if errors.Is(err, client.ErrNotFound) {
					final, count = nil, 0
					return nil
				}
				return err
			})
			if err != nil {
				s.Unreadable++
				s.example("%s: final read failed: %v", key, err)
				continue
			}
			judge(s, kind, key, ops, final, count)
		}
	}
	return res
}

// judge compares one key's final state with its operations.
func judge(s *Stat, kind Kind, key string, ops []Op, final []string, count int64) {
	switch kind {
	case KindCounter:
		acked, maybe := 0, 0
		for _, op := range ops {
			switch op.Outcome {
			case OK:
				acked++
			case Indeterminate:
				maybe++
			}
		}
		if count < int64(acked) {
			s.Lost += acked - int(count)
			s.example("%s: counter %d, but %d increments were acknowledged", key, count, acked)
		}
		if count > int64(acked+maybe) {
			s.Unexpected += int(count) - acked - maybe
			s.example("%s: counter %d, above acknowledged %d + indeterminate %d", key, count, acked, maybe)
		}
	case KindLWW:
		op := ops[0] // each key is written once
		switch {
		case len(final) == 0:
			if op.Outcome == OK {
				s.Lost++
				s.example("%s: acknowledged write %q not found", key, op.Value)
			}
		case len(final) != 1 || final[0] != op.Value:
			s.Unexpected++
			s.example("%s: read %q, wrote %q (%s)", key, final, op.Value, outcomeName(op.Outcome))
		case op.Outcome == Fail:
			s.Unexpected++
			s.example("%s: a write that certainly failed is there: %q", key, op.Value)
		}
	default:
		have := map[string]bool{}
		for _, e := range final {
			have[e] = true
		}
		// Elements are unique to their operation: one whose write
		// certainly did not happen (it failed at its read, or was
		// refused) must be absent.
		tried := map[string]bool{}
		for _, op := range ops {
			if op.Outcome != Fail {
				tried[op.Value] = true
			}
			if op.Outcome == OK && !have[op.Value] {
				s.Lost++
				s.example("%s: acknowledged add %q missing", key, op.Value)
			}
		}
		for _, e := range final {
			if !tried[e] {
				s.Unexpected++
				s.example("%s: element %q that no write could have added", key, e)
			}
		}
	}
}

func outcomeName(o Outcome) string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "failed"
	}
	return "indeterminate"
}

// retry calls f until it succeeds, retries are spent or ctx ends (the
// last error).
func retry(ctx context.Context, retries int, f func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = f(); err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt >= retries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
}
