package handoff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/ring"
)

// Table tests of the driver's decisions (Step) over fake vnodes and a fake
// manager: no transport, no goroutines but the repair requests.

// fakeHolder is a node's partitions as the driver sees them.
type fakeHolder struct {
	mu       sync.Mutex
	r        *ring.Ring
	data     map[int]bool // partitions with data in storage
	open     map[int]bool // partitions with a vnode open
	target   map[int]ring.NodeID
	fwd      map[int]bool
	held     map[int]bool // HoldReaps
	forward  map[int]ring.NodeID
	dropped  []int
	aborted  []int
	openFail map[int]bool
}

func newFakeHolder(r *ring.Ring) *fakeHolder {
	return &fakeHolder{r: r, data: map[int]bool{}, open: map[int]bool{}, target: map[int]ring.NodeID{}, fwd: map[int]bool{},
		held: map[int]bool{}, forward: map[int]ring.NodeID{}, openFail: map[int]bool{}}
}

func (f *fakeHolder) Ring() *ring.Ring { return f.r }
func (f *fakeHolder) Empty(p int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.data[p], nil
}
func (f *fakeHolder) Held() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for p := range f.open {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
func (f *fakeHolder) Target(p int) (ring.NodeID, bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	to, ok := f.target[p]
	return to, f.fwd[p], ok
}
func (f *fakeHolder) Abort(p int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.target, p)
	delete(f.fwd, p)
	f.aborted = append(f.aborted, p)
}
func (f *fakeHolder) Drop(p int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forward[p] = f.target[p]
	delete(f.target, p)
	delete(f.fwd, p)
	delete(f.open, p)
	delete(f.data, p)
	f.dropped = append(f.dropped, p)
	return nil
}
func (f *fakeHolder) Forward(p int, to ring.NodeID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if to == "" {
		delete(f.forward, p)
	} else {
		f.forward[p] = to
	}
}
func (f *fakeHolder) HoldReaps(p int, hold bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held[p] = hold
}
func (f *fakeHolder) Open(p int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openFail[p] {
		return fmt.Errorf("partition %d forwards", p)
	}
	f.open[p] = true
	return nil
}

// heldReaps lists the partitions whose tombstones are held.
func (f *fakeHolder) heldReaps() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for p, h := range f.held {
		if h {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// fakeRunner records what the driver asks of the manager.
type fakeRunner struct {
	mu        sync.Mutex
	offered   []Job
	waiting   int
	repairing int
	forgot    []int
	asked     [][3]any
}

func (m *fakeRunner) Offer(jobs []Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offered = slices.Clone(jobs)
}
func (m *fakeRunner) SetWaiting(n int)   { m.mu.Lock(); m.waiting = n; m.mu.Unlock() }
func (m *fakeRunner) SetRepairing(n int) { m.mu.Lock(); m.repairing = n; m.mu.Unlock() }
func (m *fakeRunner) Forget(p int)       { m.mu.Lock(); m.forgot = append(m.forgot, p); m.mu.Unlock() }
func (m *fakeRunner) RequestRepair(ctx context.Context, from ring.NodeID, target, source int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, [3]any{from, target, source})
	return nil
}
func (m *fakeRunner) Status() Status { return Status{} }

func (m *fakeRunner) jobs() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s []string
	for _, j := range m.offered {
		s = append(s, j.String())
	}
	slices.Sort(s)
	return strings.Join(s, "; ")
}

func ringOf(t *testing.T, owners ...ring.NodeID) *ring.Ring {
	t.Helper()
	r, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Hinted handoff: a partition this node holds data of but does not own
// goes to its owner once the owner is up; until then it waits.
func TestDriverHinted(t *testing.T) {
	r := ringOf(t, "a", "b", "a", "b")
	vn := newFakeHolder(r)
	vn.data[1], vn.data[2] = true, true // 1 is b's (a fallback's data), 2 is a's own
	up := map[ring.NodeID]bool{"a": true}
	d := NewDriver("a", vn, func(n ring.NodeID) bool { return up[n] }, nil)
	m := &fakeRunner{}
	d.mgr = m
	d.Step(r, nil)
	if m.jobs() != "" || m.waiting != 1 {
		t.Fatalf("owner down: jobs %q, waiting %d", m.jobs(), m.waiting)
	}
	up["b"] = true
	d.Step(r, nil)
	if m.jobs() != "hinted of partition 1 to b" || m.waiting != 1 || !vn.open[1] {
		t.Fatalf("owner up: jobs %q, waiting %d, open %v", m.jobs(), m.waiting, vn.open)
	}
	// A partition dropped here that still forwards cannot be opened:
	// nothing to hand back.
	vn.openFail[3], vn.data[3] = true, true
	d.Step(r, nil)
	if m.jobs() != "hinted of partition 1 to b" {
		t.Fatalf("with a forwarding partition: %q", m.jobs())
	}
}

// Ownership transfer: planned from this node, it is offered while the
// target is up (tombstones held meanwhile), completes at once when the
// partition is empty, is reported complete after Done, and the partition
// is dropped once the ring has flipped; requests are forwarded for
// ForwardGrace scans after that.
func TestDriverOwnership(t *testing.T) {
	r := ringOf(t, "a", "a", "a", "b")
	vn := newFakeHolder(r)
	vn.data[0], vn.open[0] = true, true
	d := NewDriver("a", vn, nil, nil)
	m := &fakeRunner{}
	d.mgr = m
	plan := []ring.Transfer{{Partition: 0, From: "a", To: "c"}, {Partition: 1, From: "a", To: "c"}, {Partition: 3, From: "b", To: "a"}}
	complete := d.Step(r, plan)
	if m.jobs() != "ownership of partition 0 to c" || !slices.Equal(complete, []int{1}) {
		t.Fatalf("jobs %q, complete %v (partition 1 is empty)", m.jobs(), complete)
	}
	if got := vn.heldReaps(); !slices.Equal(got, []int{0, 1, 3}) {
		t.Fatalf("reaps held on %v, want the partitions moving from or to this node", got)
	}
	if !d.Planned(Job{Partition: 0, Kind: Ownership, To: "c"}) || d.Planned(Job{Partition: 0, Kind: Ownership, To: "b"}) {
		t.Fatal("Planned disagrees with the plan")
	}
	// The manager ran it: the vnode forwards, the driver reports it
	// complete (until the plan says so).
	vn.target[0], vn.fwd[0] = "c", true
	d.Done(Job{Partition: 0, Kind: Ownership, To: "c"}, nil)
	plan[1].Complete = true
	if complete := d.Step(r, plan); !slices.Equal(complete, []int{0}) {
		t.Fatalf("complete after Done: %v", complete)
	}
	// The ring flips: the partition is dropped and forwarded for a while.
	r2 := ringOf(t, "c", "c", "a", "a")
	d.Step(r2, nil)
	if !slices.Equal(vn.dropped, []int{0}) || vn.forward[0] != "c" {
		t.Fatalf("after the flip: dropped %v, forward %v", vn.dropped, vn.forward)
	}
	for range ForwardGrace - 1 { // the scan that dropped it counts
		d.Step(r2, nil)
	}
	if _, still := vn.forward[0]; !still {
		t.Fatal("stopped forwarding before ForwardGrace scans")
	}
	d.Step(r2, nil)
	if _, still := vn.forward[0]; still {
		t.Fatal("still forwarding after ForwardGrace scans")
	}
}

// A transfer whose plan changed (its target left the plan) is abandoned:
// the vnode serves again, the manager forgets where it was, and the
// partition's tombstones stay for AbandonHold scans.
func TestDriverAbandons(t *testing.T) {
	r := ringOf(t, "a", "b")
	vn := newFakeHolder(r)
	vn.data[0], vn.open[0], vn.target[0] = true, true, "c"
	d := NewDriver("a", vn, nil, nil)
	m := &fakeRunner{}
	d.mgr = m
	d.Step(r, nil)
	if !slices.Equal(vn.aborted, []int{0}) || !slices.Equal(m.forgot, []int{0}) {
		t.Fatalf("aborted %v, forgot %v", vn.aborted, m.forgot)
	}
	if d.Planned(Job{Partition: 0, Kind: Ownership, To: "c"}) {
		t.Fatal("an abandoned transfer is still planned")
	}
	for range AbandonHold {
		if got := vn.heldReaps(); !slices.Equal(got, []int{0}) {
			t.Fatalf("reaps held on %v during the hold", got)
		}
		d.Step(r, nil)
	}
	d.Step(r, nil)
	if got := vn.heldReaps(); len(got) != 0 {
		t.Fatalf("reaps still held on %v after AbandonHold scans", got)
	}
}

// A repair asks the owners of the neighbouring partitions, and only for a
// partition this node owns.
func TestDriverRepairAsksNeighbours(t *testing.T) {
	r := ringOf(t, "a", "b", "c", "d")
	vn := newFakeHolder(r)
	d := NewDriver("a", vn, nil, nil)
	m := &fakeRunner{}
	d.mgr = m
	if _, err := d.Repair(1, r); err == nil {
		t.Fatal("repair of a partition owned by another node accepted")
	}
	src, err := d.Repair(0, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(src) != 2 || src[0].Partition != 3 || src[0].Node != "d" || src[1].Partition != 1 || src[1].Node != "b" {
		t.Fatalf("sources: %+v", src)
	}
	if got := d.Repairing(); !slices.Equal(got, []int{0}) {
		t.Fatalf("repairing %v", got)
	}
	d.Step(r, nil)
	// The requests go out in their own goroutines.
	testwait.For(t, waitLimit, "both repair requests", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.asked) == 2 })
	d.RepairDone(Job{Partition: 0, Kind: Repair, Source: 3, To: "a"}, "d")
	d.RepairDone(Job{Partition: 0, Kind: Repair, Source: 1, To: "a"}, "b")
	if got := d.Repairing(); len(got) != 0 {
		t.Fatalf("still repairing %v after both sources arrived", got)
	}
}
