package handoff

import (
	"slices"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/wire"
)

// TestStatusWireKeys pins the msgpack keys of MsgHandoffStatus's body:
// they are the field names the body carried before it had explicit tags,
// so nodes of either version read each other's status.
func TestStatusWireKeys(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := Status{Node: "a", Concurrency: 2, Waiting: 3, Repairing: 1, Completed: 4, Failed: 5, Refused: 6, TimedOut: 7, Objects: 8, Bytes: 9,
		Active: []Progress{{ID: 1, Kind: "repair", Partition: 2, Source: 3, From: "a", To: "b", Direction: Outbound,
			Started: at, Updated: at, Objects: 4, Bytes: 5, SizeBytes: 6, Attempt: 1}}}
	b, err := wire.MarshalBody(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := wire.DecodeBody(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"Active", "Bytes", "Completed", "Concurrency", "Failed", "Node", "Objects", "Refused", "Repairing", "TimedOut", "Waiting"}
	if got := bodyKeys(m); !slices.Equal(got, want) {
		t.Fatalf("status keys %v, want %v", got, want)
	}
	active, _ := m["Active"].([]any)
	if len(active) != 1 {
		t.Fatalf("active: %#v", m["Active"])
	}
	pm, _ := active[0].(map[string]any)
	want = []string{"Attempt", "Bytes", "Direction", "From", "ID", "Kind", "Objects", "Partition", "SizeBytes", "Source", "Started", "To", "Updated"}
	if got := bodyKeys(pm); !slices.Equal(got, want) {
		t.Fatalf("progress keys %v, want %v", got, want)
	}
	var back Status
	if err := wire.DecodeBody(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Node != st.Node || back.Bytes != st.Bytes || len(back.Active) != 1 || back.Active[0].Source != 3 || !back.Active[0].Started.Equal(at) ||
		back.Active[0].Direction != Outbound {
		t.Fatalf("round trip: %+v", back)
	}
}

func bodyKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
