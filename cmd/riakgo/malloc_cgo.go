//go:build cgo && linux

package main

/*
#include <malloc.h>

// limit_arenas caps glibc's malloc arenas at n; it returns 0 where the C
// library has no such setting (musl), 1 on success.
static int limit_arenas(int n) {
#ifdef M_ARENA_MAX
	return mallopt(M_ARENA_MAX, n);
#else
	(void)n;
	return 0;
#endif
}
*/
import "C"

import (
	"os"
	"strings"
)

// limitMallocArenas keeps the C heap, where Pebble allocates its block
// cache and memtables, in one glibc arena. glibc otherwise gives threads
// arenas of their own (up to eight per core); Go calls into C from any
// thread, so freed blocks sit in one arena while another grows: at 5M keys
// the node's resident memory exceeded its budget by 1.4 GiB of freed C
// memory, and allocating a block (calloc) took 14% of the CPU, against
// 2% with one arena (docs/performance.md). MALLOC_ARENA_MAX or an
// arena_max in GLIBC_TUNABLES in the environment is left to rule.
func limitMallocArenas() bool {
	if os.Getenv("MALLOC_ARENA_MAX") != "" || strings.Contains(os.Getenv("GLIBC_TUNABLES"), "arena_max") {
		return false
	}
	return C.limit_arenas(1) == 1
}

const cgoEnabled = true
