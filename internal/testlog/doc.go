// Package testlog gives tests a slog.Logger that writes to t.Log until the
// test's cleanup runs, so goroutines that outlive a test (a transport's
// handlers, memberlist's timers) never log into a finished test, which
// the testing package reports as a panic.
package testlog
