package clock

import (
	"testing"
	"time"
)

func TestManualFiresInOrder(t *testing.T) {
	m := NewManual(time.Unix(1000, 0))
	var got []int
	m.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	m.AfterFunc(1*time.Second, func() { got = append(got, 1) })
	t2 := m.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	m.AfterFunc(1*time.Second, func() { got = append(got, 11) })
	if !t2.Stop() {
		t.Fatal("stop of pending timer returned false")
	}
	m.Advance(1500 * time.Millisecond)
	if len(got) != 2 || got[0] != 1 || got[1] != 11 {
		t.Fatalf("after 1.5s got %v", got)
	}
	m.Advance(10 * time.Second)
	if len(got) != 3 || got[2] != 3 {
		t.Fatalf("after 11.5s got %v", got)
	}
	if want := time.Unix(1011, 500e6); !m.Now().Equal(want) {
		t.Fatalf("now %v want %v", m.Now(), want)
	}
	if m.Pending() != 0 {
		t.Fatalf("pending %d", m.Pending())
	}
}

func TestManualTimerScheduledByCallback(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	fired := 0
	m.AfterFunc(time.Second, func() {
		m.AfterFunc(time.Second, func() { fired++ })
	})
	m.Advance(2 * time.Second)
	if fired != 1 {
		t.Fatalf("chained timer fired %d times", fired)
	}
}
