package testwait

import (
	"errors"
	"testing"
	"time"
)

func TestPollReturnsOnceTheCheckPasses(t *testing.T) {
	n := 0
	err := poll(time.Minute, func() error {
		if n++; n < 5 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || n != 5 {
		t.Fatalf("poll = %v after %d checks, want nil after 5", err, n)
	}
}

func TestPollGivesUpWithTheLastError(t *testing.T) {
	n := 0
	err := poll(20*time.Millisecond, func() error {
		n++
		return errors.New("last")
	})
	if err == nil || err.Error() != "last" || n < 2 {
		t.Fatalf("poll = %v after %d checks, want the last error after several checks", err, n)
	}
}
