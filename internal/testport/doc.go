// Package testport hands tests loopback ports for the processes they
// start (real-process tests in cmd/riakgo and internal/jepsen).
package testport
