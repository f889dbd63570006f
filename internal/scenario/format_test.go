package scenario

import "testing"

func TestParseArgs(t *testing.T) {
	a := parseArgs("partition 1,2 3 key=b/k w=2")
	if a.verb != "partition" || len(a.pos) != 2 || a.pos[0] != "1,2" {
		t.Fatalf("%+v", a)
	}
	if v, ok := a.get("key"); !ok || v != "b/k" {
		t.Fatalf("key %q", v)
	}
	if u := a.unused(); len(u) != 1 || u[0] != "w" {
		t.Fatalf("unused %v", u)
	}
}
