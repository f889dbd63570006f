package lab

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, name string) *Scenario {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "lab", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return sc
}

func run(t *testing.T, sc *Scenario, strat string) *Result {
	t.Helper()
	r, err := Run(sc, strat)
	if err != nil {
		t.Fatalf("%s: %v", strat, err)
	}
	t.Logf("%-16s final %-8s expected %-8s lost %d doubled %d siblings %d", strat, r.Final, r.Expected, r.Lost, r.Doubled, r.MaxSiblings)
	return r
}

// The reference's trace (a): with three writers the blog scheme loses an
// operation; the counter loses nothing.
func TestBalanceThreeWriters(t *testing.T) {
	sc := load(t, "balance-3-writers.lab")
	blog := run(t, sc, "blog")
	if blog.Expected != "133" || blog.Lost == 0 || blog.Final == "133" || blog.MaxSiblings < 3 {
		t.Errorf("blog: %+v; want a lost operation out of 133 with 3 siblings seen", blog)
	}
	c := run(t, sc, "counter")
	if c.Final != "133" || c.Lost != 0 || c.Doubled != 0 {
		t.Errorf("counter: %+v", c)
	}
	lww := run(t, sc, "last_write_wins")
	if lww.Lost == 0 {
		t.Errorf("last_write_wins lost nothing: %+v", lww)
	}
	if o := run(t, sc, "oplog"); o.Final != "133" {
		t.Errorf("oplog: %+v", o)
	}
}

// The reference's trace (b): a reader that resolves and writes back with a
// stale context makes the blog scheme apply an operation twice.
func TestBalanceResolverDoubles(t *testing.T) {
	sc := load(t, "balance-2-writers.lab")
	blog := run(t, sc, "blog")
	if blog.Doubled == 0 || blog.Final == blog.Expected {
		t.Errorf("blog: %+v; want an operation applied twice", blog)
	}
	if c := run(t, sc, "counter"); c.Final != "13" {
		t.Errorf("counter: %+v", c)
	}
	if o := run(t, sc, "oplog"); o.Final != "13" {
		t.Errorf("oplog: %+v", o)
	}
}

func TestCounterUnderPartition(t *testing.T) {
	sc := load(t, "counter-partition.lab")
	if c := run(t, sc, "counter"); c.Final != "120" || c.Expected != "120" {
		t.Errorf("counter: %+v", c)
	}
	if b := run(t, sc, "blog"); b.Expected != "120" {
		t.Errorf("blog expected %s", b.Expected)
	}
}

// The cart: the union resolver brings back the removed shoes, last write
// wins drops an add, the ORSWOT gets it right.
func TestShoppingCart(t *testing.T) {
	sc := load(t, "shopping-cart.lab")
	set := run(t, sc, "set")
	if set.Final != "[hat socks]" || set.Expected != "[hat socks]" || set.Lost+set.Doubled != 0 {
		t.Errorf("set: %+v", set)
	}
	union := run(t, sc, "json_set_union")
	if union.Doubled == 0 {
		t.Errorf("json_set_union brought nothing back: %+v", union)
	}
	lww := run(t, sc, "last_write_wins")
	if lww.Lost == 0 && lww.Doubled == 0 {
		t.Errorf("last_write_wins was exact: %+v", lww)
	}
}

func TestReportAndParseErrors(t *testing.T) {
	var out bytes.Buffer
	sc := load(t, "shopping-cart.lab")
	if err := Report(&out, sc, "shopping-cart.lab"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "json_set_union") || !strings.Contains(out.String(), "expected") {
		t.Errorf("report:\n%s", out.String())
	}
	for _, bad := range []string{
		"kind: queue\n",
		"kind: set\nA deposit 5\n",
		"kind: balance\nA deposit -5\n",
		"kind: balance\nreplicas: 2\nA read 3\n",
		"kind: balance\nA jump\n",
		"name: x\n",
		"kind: set\npartition 1 | 7\n",
	} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("scenario %q parsed", bad)
		}
	}
	sc2, _ := Parse(strings.NewReader("kind: set\nA add x\n"))
	if _, err := Run(sc2, "counter"); err == nil {
		t.Error("counter strategy accepted for a set scenario")
	}
}
