package testcluster

import (
	"bytes"
	"fmt"
	"runtime"
	"testing/synctest"
	"time"
)

// Quiescence: the cluster is quiescent when no goroutine of the process
// can run until the test does something (advances the clock, delivers or
// releases a message, sends a request). Settle, Step and the admin calls
// wait for it after every tick, so that what a tick started has finished
// before the clock moves again: simulated time no longer depends on how
// fast the machine runs the goroutines.
//
// Inside a testing/synctest bubble (a cluster made by a test running in
// synctest.Test) quiescence is synctest.Wait: exact, and the wall clock
// the bubble fakes stands still, so a wall-clock deadline never fires
// while the test waits. Outside a bubble it is read from the runtime:
// every goroutine but the caller parked on a channel, a select, a
// condition variable or a timer, in two snapshots in a row (see
// goroutinesParked). That view covers the whole process, so a test with
// goroutines of its own that never park (a load generator) never sees the
// cluster quiescent; Quiesce then gives up after maxSpins looks and
// reports it.

// maxSpins bounds the runtime snapshots one Quiesce takes outside a
// bubble before it gives up (each is preceded by runtime.Gosched); after
// a Quiesce gave up, the next ones look only fewSpins times until one
// succeeds again (a workload is running: waiting longer would only slow
// the test down).
const (
	maxSpins = 5000
	fewSpins = 50
)

// inBubble reports whether the caller runs in a synctest bubble, waiting
// for the bubble to be idle if it does (synctest.Wait panics outside one).
func inBubble() (in bool) {
	defer func() {
		if recover() != nil {
			in = false
		}
	}()
	synctest.Wait()
	return true
}

// wait blocks until every goroutine but the caller is parked, or reports
// that it gave up.
func (c *Cluster) wait() error {
	if c.bubble {
		synctest.Wait()
		return nil
	}
	spins := maxSpins
	if c.busyLast {
		spins = fewSpins
	}
	if c.busyLast = !goroutinesParked(spins); c.busyLast {
		return fmt.Errorf("testcluster: goroutines still running after %d looks", spins)
	}
	return nil
}

// Quiesce waits until the cluster's goroutines are idle; in stepped mode
// (Options.Stepped) it delivers the queued messages one at a time, in the
// network's canonical order, waiting after each, until none is left. It
// neither advances the clock nor delivers held messages. Outside a bubble
// it may give up waiting (see above); the error says so.
func (c *Cluster) Quiesce() error {
	for {
		if err := c.wait(); err != nil {
			return err
		}
		env, ok := c.Net.DeliverNext()
		if !ok {
			return nil
		}
		if c.trace != nil {
			c.trace(env)
		}
	}
}

// busyStates are goroutine states (runtime.Stack's "[state]") of a
// goroutine that can make progress without the test doing anything.
var busyStates = []string{"running", "runnable", "syscall", "preempted",
	"semacquire", "sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock",
	"GC assist wait", "GC assist marking", "GC worker (active)"}

// goroutinesParked takes up to spins snapshots of every goroutine and
// reports whether, in two in a row, every goroutine but the caller was
// parked (not in a busyStates state).
func goroutinesParked(spins int) bool {
	buf := make([]byte, 1<<16)
	calm := 0
	for range spins {
		runtime.Gosched()
		n := runtime.Stack(buf, true)
		for n == len(buf) {
			buf = make([]byte, 2*len(buf))
			n = runtime.Stack(buf, true)
		}
		if parked(buf[:n]) {
			if calm++; calm == 2 {
				return true
			}
		} else {
			calm = 0
		}
	}
	return false
}

// parked reads a runtime.Stack(all) dump: the caller's goroutine comes
// first and is skipped.
func parked(dump []byte) bool {
	first := true
	for _, line := range bytes.Split(dump, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("goroutine ")) {
			continue
		}
		if first {
			first = false
			continue
		}
		i, j := bytes.IndexByte(line, '['), bytes.IndexByte(line, ']')
		if i < 0 || j < i {
			continue
		}
		state := line[i+1 : j]
		if k := bytes.IndexByte(state, ','); k >= 0 {
			state = state[:k] // "[chan receive, 2 minutes]"
		}
		for _, b := range busyStates {
			if string(state) == b {
				return false
			}
		}
	}
	return true
}

// stepTimeout is how far the clock moves each time an admin call or a
// node's tick waits on it (a call to a silent peer) in do.
const stepTimeout = 100 * time.Millisecond
