package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/ring"
)

// transfers prints riak-admin's layout: down nodes, waiting counts, and an
// Active Transfers block with progress for each outbound transfer.
func TestWriteTransfers(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 10, 0, time.UTC)
	tj := riakhttp.TransfersJSON{Now: now, Down: []ring.NodeID{"c@h"}, Nodes: []riakhttp.TransferStatusJSON{
		{Node: "a@h", Waiting: 2, Active: []riakhttp.ProgressJSON{
			{Kind: "ownership", Partition: 3, From: "a@h", To: "b@h", Direction: riakhttp.Outbound,
				Started: now.Add(-10 * time.Second), Updated: now, Objects: 5000, Bytes: 5 << 20, SizeBytes: 10 << 20},
			{Kind: "hinted", Partition: 9, From: "x@h", To: "a@h", Direction: riakhttp.Inbound, Started: now},
		}},
		{Node: "b@h"},
	}}
	var out bytes.Buffer
	writeTransfers(&out, tj)
	got := out.String()
	for _, want := range []string{
		"Nodes ['c@h'] are currently down.\n",
		"'a@h' waiting to handoff 2 partitions\n",
		"Active Transfers:\n",
		"transfer type: ownership_transfer\n",
		"partition: 3\n",
		"[10.00 s ago]",
		"total size: 10485760 bytes\n",
		"objects transferred: 5000\n",
		"500 Objs/s",
		"a@h        =======>  b@h",
		"|=========================                         |  50%",
		"0.52 MB/s",
		"ETA 10s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "partition: 9") {
		t.Errorf("an inbound transfer was listed:\n%s", got)
	}
	out.Reset()
	writeTransfers(&out, riakhttp.TransfersJSON{Now: now, Nodes: []riakhttp.TransferStatusJSON{{Node: "a@h"}}})
	if !strings.HasPrefix(out.String(), "No transfers active\n") {
		t.Errorf("idle cluster:\n%s", out.String())
	}
}

func TestWriteAAEStatus(t *testing.T) {
	var out bytes.Buffer
	writeAAEStatus(&out, riakhttp.AAEJSON{Node: "a@h", Status: riakhttp.AAEStatusJSON{Exchanges: 10, InSync: 7, Failed: 1, KeysRepaired: 42, TreesBuilt: 64},
		Unbuilt: []int{3, 9}})
	for _, want := range []string{"Anti-Entropy", "node:           'a@h'", "exchanges:      10 (7 in sync, 1 failed)",
		"keys repaired:  42", "trees built:    64", "last exchange:  --", "awaiting build: partitions 3, 9"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
