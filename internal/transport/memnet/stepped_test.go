package memnet_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/riakgo/riakgo/internal/transport"
)

// In stepped mode nothing moves until DeliverNext, and the order of
// delivery is canonical: notes sent by concurrent goroutines in any order
// arrive sorted by (from, to, type, body), the same on every run.
func TestSteppedDeliveryIsCanonical(t *testing.T) {
	var first []string
	for run := range 5 {
		synctest.Test(t, func(t *testing.T) {
			f := newFixture(t, 1, "a", "b", "c")
			f.net.SetStepped(true)
			for i := range 6 {
				from := []transport.NodeID{"c", "b", "a"}[i%3]
				go func() {
					_ = f.ep[from].Send(context.Background(), "a", typNote, &msg{Seq: 5 - i, Data: []byte(from)})
				}()
			}
			synctest.Wait()
			if s := f.net.Stats(); s.Queued != 6 || len(f.noteLog()) != 0 {
				t.Fatalf("stepped: %+v, notes %v", s, f.noteLog())
			}
			var order []string
			for _, env := range f.net.Queued() {
				order = append(order, fmt.Sprintf("%s->%s", env.From, env.To))
			}
			for {
				if _, ok := f.net.DeliverNext(); !ok {
					break
				}
				synctest.Wait()
			}
			got := f.noteLog()
			if len(got) != 6 || !slices.Equal(order, []string{"a->a", "a->a", "b->a", "b->a", "c->a", "c->a"}) {
				t.Fatalf("delivered %v in queue order %v", got, order)
			}
			if run == 0 {
				first = got
			} else if !slices.Equal(got, first) {
				t.Fatalf("run %d delivered %v, run 0 %v", run, got, first)
			}
			// A call waits for both its request and its response to be
			// delivered.
			done := f.goCall("a", "b", 1)
			synctest.Wait()
			notReturned(t, done)
			if env, ok := f.net.DeliverNext(); !ok || env.IsResponse() {
				t.Fatalf("first delivery %v %v", env, ok)
			}
			synctest.Wait()
			notReturned(t, done)
			if env, ok := f.net.DeliverNext(); !ok || !env.IsResponse() {
				t.Fatalf("second delivery %v %v", env, ok)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// Turning stepped mode off delivers what is queued.
			_ = f.ep["a"].Send(context.Background(), "b", typNote, &msg{Seq: 9})
			f.net.SetStepped(false)
			synctest.Wait()
			if got := f.noteLog(); got[len(got)-1] != "b:9:" {
				t.Fatalf("after SetStepped(false): %v", got)
			}
		})
	}
}
