package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	riakhttp "github.com/riakgo/riakgo/http"
)

func TestParseByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{{"1024", 1024}, {"1KiB", 1 << 10}, {"64 KiB", 64 << 10}, {"64k", 64 << 10}, {"256MiB", 256 << 20},
		{"2MB", 2 << 20}, {"1GiB", 1 << 30}, {"7B", 7}} {
		got, err := parseByteSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "KiB", "-1KiB", "0", "1TiB", "1.5MiB", "99999999999999999999", "8000000000GiB"} {
		if n, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", bad, n)
		}
	}
}

func TestFormatByteSize(t *testing.T) {
	for in, want := range map[int64]string{1024: "1 KiB", 64 << 10: "64 KiB", 256 << 20: "256 MiB", 3 << 30: "3 GiB", 1000: "1000 B", 1536: "1536 B"} {
		if got := formatByteSize(in); got != want {
			t.Errorf("formatByteSize(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestParseBenchHandoffArgs(t *testing.T) {
	cfg, err := parseBenchHandoffArgs(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sizes) != 2 || cfg.Sizes[0] != 1<<10 || cfg.Sizes[1] != 64<<10 || cfg.Bytes != 256<<20 || cfg.Poll != 50*time.Millisecond {
		t.Errorf("defaults: %+v", cfg)
	}
	if n := cfg.objectsFor(1 << 10); n != 256<<10 {
		t.Errorf("objects of 1 KiB in 256 MiB: %d", n)
	}
	if n := cfg.objectsFor(512 << 20); n != 1 {
		t.Errorf("objects larger than --bytes: %d, want 1", n)
	}
	cfg, err = parseBenchHandoffArgs([]string{"--sizes", "4KiB", "--objects", "100", "--poll", "20ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sizes) != 1 || cfg.Sizes[0] != 4096 || cfg.objectsFor(4096) != 100 || cfg.Poll != 20*time.Millisecond {
		t.Errorf("flags: %+v", cfg)
	}
	for _, bad := range [][]string{{"--sizes", ""}, {"--sizes", "1XB"}, {"--bytes", "0"}, {"--objects", "-1"},
		{"--workers", "0"}, {"--ring-size", "48"}, {"--poll", "0s"}, {"extra"}} {
		if _, err := parseBenchHandoffArgs(bad, io.Discard); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if _, err := parseBenchHandoffArgs([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestParseListenLine(t *testing.T) {
	l, err := parseListenLine("riakgo 0.1.0 listening on http://127.0.0.1:40001 (data in /tmp/x; gossip 127.0.0.1:40002, internode 127.0.0.1:40003)")
	if err != nil || l != (listenLine{HTTP: "http://127.0.0.1:40001", Gossip: "127.0.0.1:40002", Cluster: "127.0.0.1:40003"}) {
		t.Errorf("got %+v, %v", l, err)
	}
	if _, err := parseListenLine("riakgo 0.1.0 starting"); err == nil {
		t.Error("a line without an address parsed")
	}
}

func TestPlannedTransfers(t *testing.T) {
	var p riakhttp.PlanJSON
	doc := `{"transitions":[{"transfers":[{"from":"a","to":"b","count":30},{"from":"c","to":"b","count":5}]},
		{"transfers":[{"from":"a","to":"b","count":2}]}]}`
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if n := plannedTransfers(p, "a"); n != 32 {
		t.Errorf("planned from a: %d, want 32", n)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]time.Duration{5, 1, 3, 2, 4}); m != 3 {
		t.Errorf("median: %v", m)
	}
	if m := median(nil); m != 0 {
		t.Errorf("median of nothing: %v", m)
	}
}

func TestBenchHandoffTable(t *testing.T) {
	var b strings.Builder
	writeBenchHandoffTable(&b, []bhResult{{Size: 1 << 10, Objects: 1000, Bytes: 10 << 20, Transfers: 32,
		Handoff: 2 * time.Second, Idle: time.Second, TCPBigWrite: 10 * time.Millisecond, TCPObjWrite: 20 * time.Millisecond}})
	want := "| 1 KiB | 1000 | 10.0 | 32 | 2.00 s | 1.00 s | 500 | 5.0 | 1000 | 500 | 0.005 |\n"
	lines := strings.SplitAfter(b.String(), "\n")
	if len(lines) != 4 || lines[2] != want {
		t.Errorf("table:\n%s\nwant row:\n%s", b.String(), want)
	}
	if !strings.HasPrefix(lines[0], "| object size |") || strings.Count(lines[0], "|") != strings.Count(want, "|") {
		t.Errorf("header does not match the rows:\n%s", b.String())
	}
}
