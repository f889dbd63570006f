package main

import (
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: riakgo COMMAND [flags]

commands:
  start        run a node (flags: riakgo start -h)
  admin        riak-admin's verbs against a running node (riakgo admin -h)
  bench        run the HTTP load generator against a node (riakgo bench -h)
  pg           process groups: join, leave, members, pick, watch, bench (riakgo pg -h)
  bench-bare   serve the bare net/http ceiling used by bench --ceiling
  bench-handoff  handoff throughput between two processes vs a plain TCP copy (riakgo bench-handoff -h)
  lab          replay a concurrent history under each sibling strategy (docs/lab.md)
  secret       print a new random cluster secret (docs/security.md)
  version      print the version
  help         print this help
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "start":
		return runStart(args[1:], stdout, stderr)
	case "admin":
		return runAdmin(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "pg":
		return runPG(args[1:], stdout, stderr)
	case "lab":
		return runLab(args[1:], stdout, stderr)
	case "bench-bare":
		return runBenchBare(args[1:], stdout, stderr)
	case "bench-handoff":
		return runBenchHandoff(args[1:], stdout, stderr)
	case "secret":
		return runSecret(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		return runVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "riakgo: unknown command %q\n\n%s", args[0], usage)
	return 2
}
