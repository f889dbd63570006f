package testcluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
)

// replayRun runs one fixed story on a stepped cluster in a synctest bubble
// and returns every message the network delivered (with its body), the
// ticks Settle needed, and what the clients saw.
func replayRun(t *testing.T, seed uint64) (trace []string, ticks int) {
	synctest.Test(t, func(t *testing.T) {
		c := New(t, 5, Options{Seed: seed, Stepped: true, Quiet: true})
		c.SetTrace(func(env transport.Envelope) {
			trace = append(trace, fmt.Sprintf("%s->%s %s %v %x", env.From, env.To, env.Type, env.IsResponse(), env.Body))
		})
		c.Kill(4)
		for i := range 20 {
			k := key("replay", fmt.Sprint("k", i))
			var err error
			c.do(func() { err = put(t, c.Client(i%4), k, fmt.Sprint("v", i), kv.Options{W: quorum.Of(2)}) })
			trace = append(trace, fmt.Sprintf("put %s: %v", k.Key, err))
		}
		c.Restart(4)
		for ticks = 1; ticks <= 60; ticks++ {
			c.Step()
			if c.Idle() == nil {
				break
			}
		}
		c.checkFallbacksEmpty(t)
	})
	return trace, ticks
}

// A seed replays a run exactly: inside a synctest bubble, with stepped
// delivery, the same seed gives the same messages with the same bodies in
// the same order (vnode ids, epochs, clocks and all), and the same number
// of ticks to settle.
func TestSeedReplaysARun(t *testing.T) {
	a, ta := replayRun(t, 7)
	b, tb := replayRun(t, 7)
	if ta != tb || !slices.Equal(a, b) {
		i := 0
		for i < min(len(a), len(b)) && a[i] == b[i] {
			i++
		}
		t.Fatalf("two runs of seed 7 differ: %d and %d ticks, %d and %d messages, first difference at %d:\n%s\n%s",
			ta, tb, len(a), len(b), i, at(a, i), at(b, i))
	}
	if ta > 60 || len(a) < 100 {
		t.Fatalf("the story did not run: %d ticks, %d messages", ta, len(a))
	}
	c, _ := replayRun(t, 8)
	if slices.Equal(a, c) {
		t.Fatal("seeds 7 and 8 gave the same run: the seed does not reach the cluster's randomness")
	}
	t.Logf("%d messages, settled in %d ticks, twice alike", len(a), ta)
}

func at(s []string, i int) string {
	if i < len(s) {
		return strings.Clone(s[i])
	}
	return "(end)"
}

// parked reads runtime.Stack's goroutine states.
func TestParkedReadsGoroutineStates(t *testing.T) {
	dump := func(states ...string) []byte {
		var b strings.Builder
		b.WriteString("goroutine 1 [running]:\nmain.main()\n\n")
		for i, s := range states {
			fmt.Fprintf(&b, "goroutine %d [%s]:\nsome.func()\n\n", i+2, s)
		}
		return []byte(b.String())
	}
	for _, tc := range []struct {
		states []string
		want   bool
	}{
		{nil, true},
		{[]string{"chan receive", "select", "sync.Cond.Wait", "IO wait", "chan receive, 2 minutes"}, true},
		{[]string{"select", "runnable"}, false},
		{[]string{"sync.Mutex.Lock"}, false},
		{[]string{"running"}, false},
		{[]string{"semacquire, 1 minutes"}, false},
	} {
		if got := parked(dump(tc.states...)); got != tc.want {
			t.Errorf("parked(%v) = %v, want %v", tc.states, got, tc.want)
		}
	}
}
