package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	riakhttp "github.com/riakgo/riakgo/http"
)

// ringready and repair print riak-admin's lines and exit 0 only on success
// (a fake node answers the routes).
func TestRingReadyAndRepairCLI(t *testing.T) {
	var ready riakhttp.RingReadyJSON
	var repairStatus int
	var repairBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/admin/ringready":
			json.NewEncoder(w).Encode(ready)
		case "/admin/repair":
			w.WriteHeader(repairStatus)
			w.Write([]byte(strings.ReplaceAll(repairBody, "PARTITION", r.URL.Query().Get("partition"))))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &adminClient{base: srv.URL, http: &http.Client{Timeout: 10 * time.Second}}
	run := func(f func(*adminClient, []string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := f(c, args, &out, &errb)
		return out.String() + errb.String(), code
	}
	ringready := func(c *adminClient, a []string, o, e *bytes.Buffer) int { return adminRingReady(c, a, o, e) }
	repair := func(c *adminClient, a []string, o, e *bytes.Buffer) int { return adminRepair(c, a, o, e) }
	for _, tc := range []struct {
		rr   riakhttp.RingReadyJSON
		want string
		code int
	}{
		{riakhttp.RingReadyJSON{Ready: true, Nodes: []string{"a@h", "b@h"}}, "TRUE All nodes agree on the ring ['a@h','b@h']\n", 0},
		{riakhttp.RingReadyJSON{Nodes: []string{"a@h", "b@h"}, Down: []string{"b@h"}}, "FALSE ['b@h'] down.  All nodes need to be up to check.\n", 1},
		{riakhttp.RingReadyJSON{Nodes: []string{"a@h", "b@h"}, Differ: []string{"a@h", "b@h"}}, "FALSE Node 'a@h' and 'b@h' list different partition owners\n", 1},
		{riakhttp.RingReadyJSON{Nodes: []string{"a@h"}, Pending: 4}, "FALSE 4 partitions are changing owner (see 'riakgo admin ring-status')\n", 1},
	} {
		ready = tc.rr
		if out, code := run(ringready); out != tc.want || code != tc.code {
			t.Errorf("ringready %+v: exit %d %q, want %d %q", tc.rr, code, out, tc.code, tc.want)
		}
	}
	repairStatus = 200
	repairBody = `{"repairs":[{"partition":PARTITION,"index":"91343852333181432387730302044767688728495783936","owner":"b@h",` +
		`"sources":[{"partition":0,"node":"a@h"},{"partition":2,"node":"c@h"}]}]}`
	out, code := run(repair, "1")
	if code != 0 || !strings.Contains(out, "Repairing partition 1 (91343852333181432387730302044767688728495783936) on 'b@h' from partition 0 on 'a@h' and partition 2 on 'c@h'\n") {
		t.Errorf("repair 1: exit %d %q", code, out)
	}
	repairStatus, repairBody = 409, `{"error":"ownership changes are pending","reason":"ownership_change_in_progress"}`
	if out, code := run(repair); code != 1 || !strings.HasPrefix(out, "ownership_change_in_progress") {
		t.Errorf("repair during a transition: exit %d %q", code, out)
	}
	if _, code := run(repair, "x"); code != 2 {
		t.Errorf("repair x: exit %d, want 2", code)
	}
	// transfers lists repairs as waiting and shows a repair's source.
	var buf bytes.Buffer
	now := time.Now()
	writeTransfers(&buf, riakhttp.TransfersJSON{Now: now, Nodes: []riakhttp.TransferStatusJSON{{Node: "b@h", Repairing: 2, Active: []riakhttp.ProgressJSON{
		{Kind: "repair", Partition: 1, Source: 2, From: "c@h", To: "b@h", Direction: riakhttp.Outbound, Started: now, Updated: now}}}}})
	for _, want := range []string{"'b@h' waiting for the repair of 2 partitions\n", "transfer type: repair_transfer\n", "partition: 1\nfrom partition: 2\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("transfers: missing %q in\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "No transfers active") {
		t.Errorf("transfers with repairs pending says no transfers:\n%s", buf.String())
	}
}
