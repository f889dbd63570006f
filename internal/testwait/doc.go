// Package testwait waits in tests for a condition to hold, with a
// deadline. It is for tests that watch something an injected clock cannot
// drive (real processes, memberlist's timers, TCP); everything else
// advances a manual clock instead.
package testwait
