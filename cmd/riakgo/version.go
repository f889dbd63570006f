package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version is the riakgo release; the build may override it with
// -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// riakKVCompat is the Riak KV version whose HTTP API riakgo serves.
const riakKVCompat = "2.2.3"

func runVersion(args []string, stdout, stderr io.Writer) int {
	rev, dirty := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "+dirty"
			}
		}
	}
	fmt.Fprintf(stdout, "riakgo %s (Riak KV %s HTTP API; %s; commit %s)\n", Version, riakKVCompat, runtime.Version(), rev+dirty)
	return 0
}
