// Package clock is the time seam: every timeout, timer and timestamp in
// riakgo's I/O layers is read from a Clock passed in through configuration.
// Real is the wall clock; Manual is a deterministic clock for tests that
// only moves when Advance is called, firing due timers in order. Tests never
// sleep: they advance a Manual clock or wait on a condition.
package clock
