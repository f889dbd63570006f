//go:build !unix

package pebblestore

// defaultMaxOpenFiles is Pebble's default where the descriptor limit is
// not read.
func defaultMaxOpenFiles() int { return 1000 }
