package scenario

import (
	"os"
	"path/filepath"
	"testing"
)

// Every scenario file is in canonical form: parsing and rendering it gives
// it back byte for byte, so -rewrite changes only outputs.
func TestFilesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parse(f, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := render(blocks); got != string(raw) {
			t.Errorf("%s does not round-trip:\n%s", f, got)
		}
	}
}

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
