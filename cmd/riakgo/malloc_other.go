//go:build !cgo || !linux

package main

// limitMallocArenas has nothing to do without cgo (Pebble then allocates
// in the Go heap) or off Linux.
func limitMallocArenas() bool { return false }

const cgoEnabled = false
