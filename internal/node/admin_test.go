package node

import (
	"reflect"
	"testing"
	"time"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
)

// TestTransferStatusJSON: every field of handoff's status reaches the
// admin JSON (a field added to one type and not the other fails here).
func TestTransferStatusJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := handoff.Status{Node: "a", Concurrency: 2, Waiting: 3, Repairing: 4, Completed: 5, Failed: 6, Refused: 7, TimedOut: 8, Objects: 9, Bytes: 10,
		Active: []handoff.Progress{{ID: 11, Kind: "repair", Partition: 12, Source: 13, From: "a", To: "b", Direction: handoff.Outbound,
			Started: at, Updated: at.Add(time.Second), Objects: 14, Bytes: 15, SizeBytes: 16, Attempt: 17}}}
	want := riakhttp.TransferStatusJSON{Node: "a", Concurrency: 2, Waiting: 3, Repairing: 4, Completed: 5, Failed: 6, Refused: 7, TimedOut: 8, Objects: 9, Bytes: 10,
		Active: []riakhttp.ProgressJSON{{ID: 11, Kind: "repair", Partition: 12, Source: 13, From: "a", To: "b", Direction: riakhttp.Outbound,
			Started: at, Updated: at.Add(time.Second), Objects: 14, Bytes: 15, SizeBytes: 16, Attempt: 17}}}
	if got := transferStatusJSON(st); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if n, m := reflect.TypeOf(st).NumField(), reflect.TypeOf(want).NumField(); n != m {
		t.Fatalf("handoff.Status has %d fields, TransferStatusJSON %d", n, m)
	}
	if n, m := reflect.TypeOf(handoff.Progress{}).NumField(), reflect.TypeOf(riakhttp.ProgressJSON{}).NumField(); n != m {
		t.Fatalf("handoff.Progress has %d fields, ProgressJSON %d", n, m)
	}
	if n, m := reflect.TypeOf(handoff.AAEStatus{}).NumField(), reflect.TypeOf(riakhttp.AAEStatusJSON{}).NumField(); n != m {
		t.Fatalf("handoff.AAEStatus has %d fields, AAEStatusJSON %d", n, m)
	}
}
