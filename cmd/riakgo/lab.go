package main

import (
	"fmt"
	"io"
	"os"

	"github.com/riakgo/riakgo/internal/lab"
)

const labUsage = `usage: riakgo lab SCENARIO [SCENARIO...]

Replays each scenario file (see docs/lab.md) under every sibling-resolution
strategy of its kind and prints final value, expected value, operations lost,
operations applied twice, and the most siblings a read saw.
`

func runLab(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, labUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for i, path := range args {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "riakgo lab: %v\n", err)
			return 1
		}
		sc, err := lab.Parse(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "riakgo lab: %s: %v\n", path, err)
			return 1
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := lab.Report(stdout, sc, path); err != nil {
			fmt.Fprintf(stderr, "riakgo lab: %s: %v\n", path, err)
			return 1
		}
	}
	return 0
}
