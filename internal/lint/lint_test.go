package lint

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/riakgo/riakgo"

type pkg struct {
	ImportPath string
	Dir        string
	Standard   bool
	Imports    []string
	GoFiles    []string
	// TestImports and XTestImports are the imports of the package's tests
	// (in-package and external); only the rules that say so read them.
	TestImports  []string
	XTestImports []string
}

// listPackages runs `go list -json ./...` from the module root.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// pure packages import only the standard library (minus I/O) and the pure
// packages listed for them.
var pure = map[string][]string{
	"vclock":   {},
	"quorum":   {},
	"siblings": {"vclock"},
	"dt":       {"vclock"},
	"ring":     {"vclock"},
	// kv's coordinators as step machines.
	"kv/coord": {"quorum", "ring", "siblings", "vclock"},
}

var forbiddenInPure = []string{"net", "net/http", "os", "os/exec", "syscall", "unsafe"}

// exclusive third-party imports: only the named package (or a package in
// its subtree) may import them.
var exclusive = map[string]string{
	"google.golang.org/protobuf":           "internal/pb",
	"github.com/cockroachdb/pebble":        "kv/storage/pebblestore",
	"github.com/hashicorp/memberlist":      "internal/membership/memberlist",
	"github.com/vmihailenco/msgpack":       "internal/wire",
	"github.com/prometheus/client_golang":  "internal/metrics",
	"github.com/HdrHistogram/hdrhistogram": "internal/bench",
	"golang.org/x/crypto":                  "internal/security",
	"github.com/VictoriaMetrics/fastcache": "kv",
}

// concrete adapters only the node wiring (and test clusters) may import.
var adapters = []string{
	"kv/storage/pebblestore", "kv/storage/memstore", "internal/transport/tcp",
	"internal/transport/memnet", "internal/membership/memberlist", "internal/metrics",
}

var wiring = map[string]bool{"internal/node": true, "internal/testcluster": true}

// layer numbers: a package may import only packages of a lower layer (or
// its own subtree's contracts as listed).
var layer = map[string]int{
	"vclock": 0, "quorum": 0, "internal/clock": 0, "internal/testwait": 0, "internal/testport": 0, "internal/testlog": 0,
	"internal/secret": 0, "internal/testcerts": 0, "internal/tlsconf": 0,
	"siblings": 1, "dt": 1, "ring": 1, "internal/hashtree": 1,
	"kv/coord": 2, "internal/transfer": 2, "internal/wire": 2, "internal/pb/riakpb": 2, "kv/storage": 2, "internal/transport": 2, "internal/membership": 2,
	"kv/storage/memstore": 3, "kv/storage/pebblestore": 3, "internal/metadata": 3, "kv/storage/storagetest": 3, "internal/metrics": 3,
	"handoff": 4, "kv": 4, "internal/security": 4,
	"kv/pg": 5,
	"http":  5, "internal/pb": 5, "internal/riakapi": 5, "client": 5, "internal/bench": 5, "internal/lab": 5, "internal/jepsen": 5,
	"internal/node": 6, "internal/testcluster": 6, "internal/scenario": 7,
	"cmd/riakgo": 7,
}

func layerOf(p string) (int, bool) {
	for cand := p; cand != "" && cand != "."; cand = filepath.Dir(cand) {
		if l, ok := layer[cand]; ok {
			return l, true
		}
	}
	return 0, false
}

// TestImportRules holds the dependency rules of DESIGN.md.
func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		me := rel(p.ImportPath)
		myLayer, known := layerOf(me)
		if !known && me != "internal/lint" {
			t.Errorf("%s: package is not in the layer map of internal/lint; add it", me)
		}
		for _, imp := range p.Imports {
			if allowed, ok := pure[me]; ok {
				if isStd(imp) {
					for _, f := range forbiddenInPure {
						if imp == f {
							t.Errorf("%s is pure but imports %s", me, imp)
						}
					}
				} else if !strings.HasPrefix(imp, module+"/") || !contains(allowed, rel(imp)) {
					t.Errorf("%s is pure but imports %s", me, imp)
				}
			}
			for prefix, owner := range exclusive {
				if strings.HasPrefix(imp, prefix) && me != owner && !strings.HasPrefix(me, owner+"/") {
					t.Errorf("%s imports %s; only %s may", me, imp, owner)
				}
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			target := rel(imp)
			for _, a := range adapters {
				if (target == a || strings.HasPrefix(target, a+"/")) && !wiring[me] && !strings.HasPrefix(me, a) {
					t.Errorf("%s imports the concrete adapter %s; only internal/node and internal/testcluster may", me, target)
				}
			}
			if me == "handoff" && (target == "kv" || strings.HasPrefix(target, "kv/")) {
				t.Errorf("handoff must not import kv (%s)", target)
			}
			// Nor kv handoff: they share internal/transfer's types, and
			// kv.Vnodes satisfies handoff's interfaces.
			if inTree(me, "kv") && inTree(target, "handoff") {
				t.Errorf("%s must not import handoff (%s)", me, target)
			}
			// Process groups are built on kv's narrow API; kv never
			// reaches back into them.
			if inTree(me, "kv") && !inTree(me, "kv/pg") && inTree(target, "kv/pg") {
				t.Errorf("%s must not import the process groups (%s)", me, target)
			}
			// The two client faces share kv and internal/riakapi, never
			// each other's code.
			if me == "http" && (target == "internal/pb" || strings.HasPrefix(target, "internal/pb/")) {
				t.Errorf("http must not import the Protocol Buffers face (%s)", target)
			}
			if (me == "internal/pb" || strings.HasPrefix(me, "internal/pb/")) && target == "http" {
				t.Errorf("%s must not import the HTTP face", me)
			}
			if tl, ok := layerOf(target); ok && known && tl > myLayer {
				t.Errorf("%s (layer %d) imports %s (layer %d): lower layers never import higher ones", me, myLayer, target, tl)
			}
		}
		// http serves admin bodies of its own (TransfersJSON, AAEJSON, …),
		// never handoff's types, so that the internode body and the admin
		// JSON change apart; its tests hold to it too.
		if me == "http" || strings.HasPrefix(me, "http/") {
			for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
				if imp == module+"/handoff" || strings.HasPrefix(imp, module+"/handoff/") {
					t.Errorf("%s imports %s; http must not import handoff (the node wiring converts handoff's status to http's admin types)", me, rel(imp))
				}
			}
		}
	}
}

// inTree reports whether package p is root or under it.
func inTree(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPurePackagesDoNoIO checks that pure packages never read the clock
// and never start goroutines (time arrives as an argument).
func TestPurePackagesDoNoIO(t *testing.T) {
	for _, p := range listPackages(t) {
		me := rel(p.ImportPath)
		if _, ok := pure[me]; !ok {
			continue
		}
		fset := token.NewFileSet()
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.GoStmt:
					t.Errorf("%s: pure package starts a goroutine", fset.Position(n.Pos()))
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && (n.Sel.Name == "Now" || n.Sel.Name == "Since" || n.Sel.Name == "Sleep") {
						t.Errorf("%s: pure package calls time.%s", fset.Position(n.Pos()), n.Sel.Name)
					}
				}
				return true
			})
		}
	}
}

// TestDocFiles checks that every package has a doc.go with a package
// comment.
func TestDocFiles(t *testing.T) {
	for _, p := range listPackages(t) {
		path := filepath.Join(p.Dir, "doc.go")
		src, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s has no doc.go", rel(p.ImportPath))
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ParseComments)
		if err != nil || file.Doc == nil || len(strings.TrimSpace(file.Doc.Text())) < 40 {
			t.Errorf("%s/doc.go has no package comment worth the name", rel(p.ImportPath))
		}
	}
}
