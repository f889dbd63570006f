package testwait

import (
	"fmt"
	"testing"
	"time"
)

// maxPoll caps the interval between checks; checks start at 1ms and
// double, so a fast condition is seen at once and a slow one (an admin
// command that spawns a process) is not re-run in a tight loop.
const maxPoll = 200 * time.Millisecond

// Until calls check until it returns nil. If timeout passes first the test
// fails with the last error check returned, which should say what was
// seen instead.
func Until(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := poll(timeout, check); err != nil {
		t.Fatalf("gave up after %v: %v", timeout, err)
	}
}

// For waits until cond holds; what names the condition in the failure.
func For(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Until(t, timeout, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("still waiting for %s", what)
	})
}

func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := check()
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		timer := time.NewTimer(min(wait, time.Until(deadline)))
		<-timer.C
		wait = min(2*wait, maxPoll)
	}
}
