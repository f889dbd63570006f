package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/testcluster"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// RunFile runs the scenario file at path in a testing/synctest bubble and
// compares every command's output with the file's. With rewrite it writes
// the file back with the outputs the run produced instead.
func RunFile(t *testing.T, path string, rewrite bool) {
	blocks, err := parse(path, rewrite)
	if err != nil {
		t.Fatal(err)
	}
	if !rewrite {
		// The file is in canonical form, so that -rewrite changes only
		// outputs.
		if raw, err := os.ReadFile(path); err != nil || render(blocks) != string(raw) {
			t.Errorf("%s is not in canonical form (blank line after each output, none inside): run with -rewrite (%v)", path, err)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		e := &env{t: t, reads: map[string]vclock.VClock{}}
		for i := range blocks {
			b := &blocks[i]
			if b.Cmd == "" {
				continue
			}
			got := strings.TrimRight(e.run(b.Cmd), "\n")
			if got == "" {
				got = "ok"
			}
			if rewrite {
				b.Want = got
			} else if got != b.Want {
				t.Errorf("%s:%d: %s\n--- want\n%s\n--- got\n%s", path, b.Line, b.Cmd, b.Want, got)
			}
		}
		if e.c != nil {
			e.closeAll()
		}
	})
	if rewrite {
		if err := os.WriteFile(path, []byte(render(blocks)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// env is one scenario's world: the cluster and the requests in flight.
type env struct {
	t     *testing.T
	c     *testcluster.Cluster
	nval  int
	out   strings.Builder
	trace bool

	seq     int
	pending []*request
	rules   []rule
	reads   map[string]vclock.VClock // causal context of the last get of each key
}

// request is a client request running in its own goroutine.
type request struct {
	id   int
	desc string
	done chan struct{}
	res  string
}

// rule holds messages matching it (hold/release).
type rule struct{ typ, from, to string }

func (r rule) match(env transport.Envelope) bool {
	return (r.typ == "" || r.typ == env.Type.String()) &&
		(r.from == "" || r.from == short(env.From)) &&
		(r.to == "" || r.to == short(env.To))
}

func (r rule) String() string {
	s := []string{}
	for _, kv := range [][2]string{{"type", r.typ}, {"from", r.from}, {"to", r.to}} {
		if kv[1] != "" {
			s = append(s, kv[0]+"="+kv[1])
		}
	}
	if len(s) == 0 {
		return "every message"
	}
	return strings.Join(s, " ")
}

func short(id ring.NodeID) string {
	s, _, _ := strings.Cut(string(id), "@")
	return strings.Replace(s, "node", "n", 1)
}

func (e *env) printf(format string, a ...any) { fmt.Fprintf(&e.out, format+"\n", a...) }

// run executes one command and returns its output.
func (e *env) run(cmd string) (out string) {
	e.out.Reset()
	a := parseArgs(cmd)
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				e.printf("error: %s", string(f))
				out = e.out.String()
				return
			}
			panic(r)
		}
	}()
	if a.verb != "cluster" && e.c == nil {
		fail("the first command must be cluster")
	}
	switch a.verb {
	case "cluster":
		e.cmdCluster(a)
	case "preflist":
		e.cmdPreflist(a)
	case "put", "get", "delete":
		e.cmdKV(a)
	case "replicas":
		e.cmdReplicas(a)
	case "props":
		e.cmdProps(a)
	case "show-props":
		e.cmdShowProps(a)
	case "bucket-type":
		e.cmdBucketType(a)
	case "partition":
		e.cmdPartition(a)
	case "heal":
		e.c.Heal()
		e.settleRequests()
	case "kill":
		for _, i := range e.nodes(a) {
			e.c.Kill(i)
		}
		e.settleRequests()
	case "restart":
		for _, i := range e.nodes(a) {
			e.c.Restart(i)
		}
		e.settleRequests()
	case "tick":
		n := e.intArg(a, "n", 1)
		for range n {
			e.c.Step()
		}
		e.settleRequests()
	case "stabilize":
		e.cmdStabilize(a)
	case "hold":
		r := e.ruleArg(a)
		e.rules = append(e.rules, r)
		e.printf("holding %s", r)
	case "held":
		for _, env := range e.held(e.ruleArg(a)) {
			e.printf("%s", describe(env))
		}
	case "deliver":
		e.cmdDeliver(a, false)
	case "release":
		e.cmdDeliver(a, true)
	case "drop":
		var ids []uint64
		for _, env := range e.held(e.ruleArg(a)) {
			ids = append(ids, env.ID)
			e.printf("dropped %s", describe(env))
		}
		e.c.Net.Discard(ids...)
		e.settleRequests()
	case "trace":
		e.trace = len(a.pos) == 0 || a.pos[0] != "off"
	case "transfers":
		e.cmdTransfers()
	case "wait":
		// Let what is running finish without moving the clock.
		e.settleRequests()
	default:
		fail("unknown command %q", a.verb)
	}
	if u := a.unused(); len(u) > 0 {
		sort.Strings(u)
		fail("unknown arguments %v", u)
	}
	return e.out.String()
}

// failure is a command error: printed as the command's output.
type failure string

func fail(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }

func (e *env) intArg(a *args, k string, def int) int {
	v, ok := a.get(k)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fail("%s=%q: %v", k, v, err)
	}
	return n
}

// node returns the 0-based index of node=N (1-based in the files).
func (e *env) node(a *args) int {
	v, ok := a.get("node")
	if !ok {
		v = "1"
	}
	v = strings.TrimPrefix(v, "n")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > len(e.c.Nodes) {
		fail("no node %q", v)
	}
	return n - 1
}

// nodes returns the positional node numbers (1-based) as indexes.
func (e *env) nodes(a *args) []int {
	var out []int
	for _, p := range a.pos {
		for _, f := range strings.Split(p, ",") {
			n, err := strconv.Atoi(strings.TrimPrefix(f, "n"))
			if err != nil || n < 1 || n > len(e.c.Nodes) {
				fail("no node %q", f)
			}
			out = append(out, n-1)
		}
	}
	if len(out) == 0 {
		fail("name the nodes")
	}
	return out
}

func (e *env) key(a *args) kv.Key {
	v, ok := a.get("key")
	if !ok {
		fail("key= is missing")
	}
	k := kv.Key{Type: kv.DefaultType}
	parts := strings.Split(v, "/")
	switch len(parts) {
	case 2:
		k.Bucket, k.Key = parts[0], parts[1]
	case 3:
		k.Type, k.Bucket, k.Key = parts[0], parts[1], parts[2]
	default:
		fail("key=%q: want bucket/key or type/bucket/key", v)
	}
	return k
}

func keyString(k kv.Key) string {
	if k.Type == kv.DefaultType {
		return k.Bucket + "/" + k.Key
	}
	return k.Type + "/" + k.Bucket + "/" + k.Key
}

func (e *env) ruleArg(a *args) rule {
	var r rule
	r.typ, _ = a.get("type")
	r.from, _ = a.get("from")
	r.to, _ = a.get("to")
	return r
}

func (e *env) cmdCluster(a *args) {
	if e.c != nil {
		fail("cluster already made")
	}
	n := e.intArg(a, "nodes", 5)
	e.nval = e.intArg(a, "n_val", 3)
	batch := e.intArg(a, "batch", 0)
	o := testcluster.Options{
		RingSize: e.intArg(a, "ring", 16),
		Seed:     uint64(e.intArg(a, "seed", 1)),
		Stepped:  true,
		Quiet:    true,
		Handoff: func(i int, hc *handoff.Config) {
			if batch > 0 {
				hc.BatchCount = batch
			}
		},
	}
	e.c = testcluster.New(e.t, n, o)
	e.c.SetTrace(func(env transport.Envelope) {
		if e.trace {
			e.printf("  %s", describe(env))
		}
	})
	e.c.HoldWhere(func(env transport.Envelope) bool {
		for _, r := range e.rules {
			if r.match(env) {
				return true
			}
		}
		return false
	})
	r := e.c.Ring
	var owners []string
	for p := 0; p < r.Size(); p++ {
		owners = append(owners, fmt.Sprintf("%d:%s", p, short(r.Owner(p))))
	}
	e.printf("%d nodes, ring %d, n_val %d", n, r.Size(), e.nval)
	e.printf("owners %s", strings.Join(owners, " "))
}

func describe(env transport.Envelope) string {
	kind := "request"
	if env.IsResponse() {
		kind = "reply"
	}
	return fmt.Sprintf("%s->%s %s %s", short(env.From), short(env.To), env.Type, kind)
}

// preflist prints the key's preference list as node=N sees it.
func (e *env) cmdPreflist(a *args) {
	i, k := e.node(a), e.key(a)
	pl, err := e.c.Client(i).Preflist(k)
	if err != nil {
		fail("%v", err)
	}
	r := e.c.Client(i).Ring()
	for _, t := range pl {
		p := -1
		for q := 0; q < r.Size(); q++ {
			if r.Index(q).Cmp(t.Partition) == 0 {
				p = q
			}
		}
		kind := "primary"
		if !t.Primary {
			kind = "fallback"
		}
		e.printf("p%d %s %s", p, short(t.Node), kind)
	}
}

func (e *env) quorumArg(a *args, k string) quorum.Value {
	v, ok := a.get(k)
	if !ok {
		return quorum.ValDefault
	}
	q, err := quorum.ParseValue(v)
	if err != nil {
		fail("%s=%s: %v", k, v, err)
	}
	return q
}

func (e *env) boolArg(a *args, k string) *bool {
	v, ok := a.get(k)
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		fail("%s=%s: %v", k, v, err)
	}
	return &b
}

// cmdKV starts a put, get or delete on node=N and prints its result if it
// finishes before the cluster is quiescent again (else "pending").
func (e *env) cmdKV(a *args) {
	i, k := e.node(a), e.key(a)
	o := kv.Options{R: e.quorumArg(a, "r"), PR: e.quorumArg(a, "pr"), W: e.quorumArg(a, "w"),
		PW: e.quorumArg(a, "pw"), DW: e.quorumArg(a, "dw"), RW: e.quorumArg(a, "rw"),
		NotFoundOK: e.boolArg(a, "notfound_ok"), BasicQuorum: e.boolArg(a, "basic_quorum"),
		SloppyQuorum: e.boolArg(a, "sloppy_quorum")}
	svc := e.c.Client(i)
	var ctxClock vclock.VClock
	if b := e.boolArg(a, "ctx"); b != nil && *b {
		ctxClock = e.reads[keyString(k)]
	}
	desc := fmt.Sprintf("%s n%d %s", a.verb, i+1, keyString(k))
	ctx := context.Background()
	switch a.verb {
	case "put":
		v, _ := a.get("value")
		desc += " " + v
		e.start(desc, func() string {
			_, err := svc.Put(ctx, k, []byte(v), siblings.Meta{ContentType: "text/plain"}, ctxClock, o)
			return result(err)
		})
	case "delete":
		e.start(desc, func() string { return result(svc.Delete(ctx, k, ctxClock, o)) })
	case "get":
		e.start(desc, func() string {
			obj, err := svc.Get(ctx, k, o)
			if err != nil {
				return result(err)
			}
			e.reads[keyString(k)] = obj.Clock
			return render1(obj)
		})
	}
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, kv.ErrNotFound):
		return "not found"
	}
	return "error: " + err.Error()
}

// render1 prints an object's values, siblings sorted, tombstones marked.
func render1(o *siblings.Object) string {
	if o == nil {
		return "not found"
	}
	var vals []string
	for _, s := range o.Siblings {
		if s.Meta.Deleted {
			vals = append(vals, "<tombstone>")
		} else {
			vals = append(vals, string(s.Value))
		}
	}
	sort.Strings(vals)
	if len(vals) > 1 {
		return strings.Join(vals, " | ") + fmt.Sprintf(" (%d siblings)", len(vals))
	}
	return strings.Join(vals, "")
}

// start runs fn as a request and lets the cluster run to quiescence.
func (e *env) start(desc string, fn func() string) {
	e.seq++
	r := &request{id: e.seq, desc: desc, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.res = fn()
	}()
	e.pending = append(e.pending, r)
	e.settleRequests()
}

// settleRequests lets the cluster run to quiescence and prints every
// request that finished, in the order they were started; the others are
// listed as pending.
func (e *env) settleRequests() {
	if err := e.c.Quiesce(); err != nil {
		fail("%v", err)
	}
	var still []*request
	for _, r := range e.pending {
		select {
		case <-r.done:
			e.printf("#%d %s: %s", r.id, r.desc, r.res)
		default:
			still = append(still, r)
		}
	}
	e.pending = still
	for _, r := range still {
		e.printf("#%d %s: pending", r.id, r.desc)
	}
}

// cmdReplicas prints what every node stores for the key in the partitions
// of its preference list (primaries and fallbacks alike), read from the
// vnodes directly (no read repair).
func (e *env) cmdReplicas(a *args) {
	k := e.key(a)
	r := e.c.Ring
	first := r.Partition(ring.KeyHash(k.Type, k.Bucket, k.Key))
	any := false
	for i, nd := range e.c.Nodes {
		if !e.c.Alive(i) {
			continue
		}
		for d := 0; d < e.nval; d++ {
			p := (first + d) % r.Size()
			if !slices.Contains(nd.Svc.Partitions(), p) {
				continue
			}
			v := nd.Svc.Vnode(p)
			if v == nil {
				continue
			}
			o, err := v.Get(k)
			if err != nil || o == nil {
				continue
			}
			kind := "primary"
			if r.Owner(p) != nd.ID {
				kind = "fallback"
			}
			e.printf("n%d p%d %s: %s", i+1, p, kind, render1(o))
			any = true
		}
	}
	if !any {
		e.printf("no replica")
	}
}

// cmdProps sets bucket properties through node=N (a cluster metadata
// change): props node=1 bucket=b allow_mult=true n_val=3.
func (e *env) cmdProps(a *args) {
	i := e.node(a)
	typ, bucket := kv.DefaultType, ""
	if v, ok := a.get("type"); ok {
		typ = v
	}
	bucket, _ = a.get("bucket")
	raw := map[string]json.RawMessage{}
	for k, v := range a.kv {
		if a.used[k] {
			continue
		}
		a.used[k] = true
		if _, err := strconv.Atoi(v); err != nil && v != "true" && v != "false" {
			v = strconv.Quote(v)
		}
		raw[k] = json.RawMessage(v)
	}
	svc := e.c.Client(i)
	e.start(fmt.Sprintf("props n%d %s/%s", i+1, typ, bucket), func() string {
		return result(svc.SetBucketProps(typ, bucket, raw))
	})
}

// cmdShowProps prints chosen properties as node=N sees them.
func (e *env) cmdShowProps(a *args) {
	i := e.node(a)
	typ := kv.DefaultType
	if v, ok := a.get("type"); ok {
		typ = v
	}
	bucket, _ := a.get("bucket")
	p, err := e.c.Client(i).BucketProps(typ, bucket)
	if err != nil {
		fail("%v", err)
	}
	e.printf("n%d %s/%s: n_val=%d allow_mult=%v", i+1, typ, bucket, p.NVal, p.AllowMult)
}

// cmdBucketType creates or activates a bucket type through node=N:
// bucket-type create name=t n_val=2, bucket-type activate name=t.
func (e *env) cmdBucketType(a *args) {
	i := e.node(a)
	name, _ := a.get("name")
	svc := e.c.Client(i)
	if len(a.pos) != 1 {
		fail("bucket-type create|activate|status name=T")
	}
	switch a.pos[0] {
	case "create":
		raw := map[string]json.RawMessage{}
		for k, v := range a.kv {
			if a.used[k] {
				continue
			}
			a.used[k] = true
			raw[k] = json.RawMessage(v)
		}
		e.start(fmt.Sprintf("bucket-type create n%d %s", i+1, name), func() string { return result(svc.CreateType(name, raw)) })
	case "activate":
		e.start(fmt.Sprintf("bucket-type activate n%d %s", i+1, name), func() string { return result(svc.ActivateType(name)) })
	case "status":
		ti := svc.TypeStatus(name)
		e.printf("n%d %s: %+v", i+1, name, ti)
	default:
		fail("bucket-type %s?", a.pos[0])
	}
}

// cmdPartition: partition 1,2,3 4,5 (each group a comma list).
func (e *env) cmdPartition(a *args) {
	var groups [][]int
	for _, g := range a.pos {
		var grp []int
		for _, f := range strings.Split(g, ",") {
			n, err := strconv.Atoi(strings.TrimPrefix(f, "n"))
			if err != nil || n < 1 || n > len(e.c.Nodes) {
				fail("no node %q", f)
			}
			grp = append(grp, n-1)
		}
		groups = append(groups, grp)
	}
	e.c.Partition(groups...)
	e.settleRequests()
}

// cmdStabilize steps the cluster until it is idle (testcluster.Idle): no
// transfer running or waiting, one settled ring, equal metadata.
func (e *env) cmdStabilize(a *args) {
	max := e.intArg(a, "max", 60)
	n := 0
	err := e.c.Idle()
	for ; n == 0 || (err != nil && n < max); n++ {
		e.c.Step()
		err = e.c.Idle()
	}
	e.settleRequests()
	if err != nil {
		e.printf("not idle after %d ticks: %v", n, err)
		return
	}
	e.printf("idle after %d ticks", n)
}

// held returns the held messages matching r, in canonical order.
func (e *env) held(r rule) []transport.Envelope {
	var out []transport.Envelope
	for _, env := range e.c.Net.Held() {
		if r.match(env) {
			out = append(out, env)
		}
	}
	slices.SortStableFunc(out, func(x, y transport.Envelope) int {
		return strings.Compare(describe(x)+string(x.Body), describe(y)+string(y.Body))
	})
	return out
}

// cmdDeliver hands over the held messages matching the arguments (n= at
// most); release also removes the matching hold rules first.
func (e *env) cmdDeliver(a *args, release bool) {
	r := e.ruleArg(a)
	n := e.intArg(a, "n", -1)
	if release {
		keep := e.rules[:0]
		for _, x := range e.rules {
			if !(r.typ == "" || r.typ == x.typ) || !(r.from == "" || r.from == x.from) || !(r.to == "" || r.to == x.to) {
				keep = append(keep, x)
			}
		}
		e.rules = keep
	}
	for _, env := range e.held(r) {
		if n == 0 {
			break
		}
		n--
		e.printf("deliver %s", describe(env))
		e.c.Net.Release(env.ID)
		if err := e.c.Quiesce(); err != nil {
			fail("%v", err)
		}
	}
	e.settleRequests()
}

func (e *env) cmdTransfers() {
	for i, st := range e.c.Transfers() {
		_ = i
		line := fmt.Sprintf("%s: waiting %d, active %d, completed %d, failed %d, objects %d",
			short(st.Node), st.Waiting, len(st.Active), st.Completed, st.Failed, st.Objects)
		for _, p := range st.Active {
			line += fmt.Sprintf(" [%s p%d %s->%s %d objects, attempt %d]", p.Kind, p.Partition, short(p.From), short(p.To), p.Objects, p.Attempt)
		}
		e.printf("%s", line)
	}
}

// closeAll stops the cluster inside the bubble (its Cleanup would too,
// but the requests still pending must end first).
func (e *env) closeAll() {
	e.c.Close()
	e.c.Net.SetStepped(false)
	e.c.Clock.Advance(time.Hour)
	for _, r := range e.pending {
		<-r.done
	}
}
