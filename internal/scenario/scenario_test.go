package scenario_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/scenario"
)

var rewrite = flag.Bool("rewrite", false, "write the outputs of this run into the testdata files instead of comparing (only commit the changes if you understand what caused them)")

// TestScenarios runs every testdata/*.txt file; -run TestScenarios/NAME
// runs one.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			scenario.RunFile(t, f, *rewrite)
		})
	}
}
