//go:build unix

package pebblestore

import "syscall"

// defaultMaxOpenFiles is half the process's file descriptor limit (Go
// raises the soft limit to the hard one at start), between 1,000 and
// 16,384: the other half stays for connections and the WAL.
func defaultMaxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1000
	}
	return clampOpenFiles(rl.Cur / 2)
}
