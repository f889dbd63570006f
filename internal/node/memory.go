package node

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/kv"
)

// A node's memory budget (riakgo start --memory) sizes its caches and
// buffers, as databases commonly size theirs from one setting:
//
//   - Pebble's block cache: 20% (decompressed blocks of the object and
//     index spaces, allocated outside the Go heap). Its most used blocks
//     are the tables' index and filter blocks, about 1.5% of the data
//     on disk; data blocks of hot keys duplicate the object cache;
//   - Pebble's memtables: up to 4 of budget/40 each (10%), clamped to
//     4..64 MiB each (a lookup of a key the store does not hold searches
//     the whole memtable skiplist, and its cost grows with the memtable:
//     15% of the CPU of a put-only load with 150 MiB memtables);
//   - the object cache: 40%, in two tiers (kv/cacheenc.go). An eighth of
//     it (5% of the budget, Go heap) holds decoded objects, the hottest
//     keys; the rest (35%) holds encodings in chunks outside the Go heap,
//     where the collector has nothing to mark. A key's replicas are held
//     once, and a hit saves every storage read, where a block holds
//     several unrelated keys; a store larger than the budget serves its
//     hot keys from here. (With the whole cache decoded, at 5M keys the
//     collector marking 22M cached objects took a third of the CPU.)
//   - the Go heap's soft limit (GOMEMLIMIT): 25%, so that the decoded
//     tier, the encoded tier's index, request buffers and garbage stay
//     within their share. The collector's work grows with the live heap
//     it marks and with how often it runs, which is how fast requests
//     allocate over the headroom between the live heap and this limit.
//     The rest, about 10%, is for what the C heap holds beyond the block
//     cache and memtables (Pebble's readers and iterators, compaction
//     buffers, freed blocks not yet reused).
//
// Without --memory the budget is DefaultMemoryFraction of the machine's
// memory (the smaller of physical memory and the cgroup's limit), and at
// least MinMemoryBudget.

// DefaultMemoryFraction is the share of the machine's memory a node takes
// when --memory is not given: half. Riak gives its leveldb backend 70% of
// the machine by default; a riakgo budget covers the whole process (its
// caches, the Go heap and the C heap), and the other half is left to the
// operating system's page cache, which serves the object cache's misses.
// Several nodes on one machine (a development cluster) should each be
// given --memory.
const DefaultMemoryFraction = 0.5

// MinMemoryBudget is the smallest budget a node plans with.
const MinMemoryBudget = 256 << 20

// MemoryPlan is how a node divides its budget.
type MemoryPlan struct {
	Budget      int64  // bytes
	Source      string // where the budget came from, for the start-up log
	BlockCache  int64  // Pebble block cache, bytes
	MemTable    int64  // one Pebble memtable, bytes (up to 4 exist)
	ObjectCache int64  // object cache, both tiers, bytes (ObjectCacheTiers)
	GoHeapLimit int64  // soft limit of the Go heap, bytes
}

// PlanMemory divides budget (bytes; 0 means the default from the machine's
// memory, machine bytes) among the node's caches.
func PlanMemory(budget, machine int64) MemoryPlan {
	p := MemoryPlan{Budget: budget, Source: "--memory"}
	if budget <= 0 {
		p.Budget = int64(float64(machine) * DefaultMemoryFraction)
		p.Source = fmt.Sprintf("%.0f%% of the machine's %s", DefaultMemoryFraction*100, FormatBytes(machine))
	}
	if p.Budget < MinMemoryBudget {
		p.Budget = MinMemoryBudget
		p.Source += fmt.Sprintf(", raised to the minimum %s", FormatBytes(MinMemoryBudget))
	}
	p.BlockCache = p.Budget * 20 / 100
	p.MemTable = min(max(p.Budget/40, 4<<20), 64<<20)
	p.ObjectCache = p.Budget * 40 / 100
	p.GoHeapLimit = p.Budget * 25 / 100
	return p
}

// ObjectCacheTiers splits the object cache: an eighth holds decoded
// objects (Go heap), the rest their encodings (outside it). A cache too
// small for an encoded tier of kv.MinEncodedCacheBytes is all decoded.
func (p MemoryPlan) ObjectCacheTiers() (decoded, encoded int64) {
	encoded = p.ObjectCache * 7 / 8
	if encoded < kv.MinEncodedCacheBytes {
		return p.ObjectCache, 0
	}
	return p.ObjectCache - encoded, encoded
}

// String renders the plan for the start-up log.
func (p MemoryPlan) String() string {
	dec, enc := p.ObjectCacheTiers()
	return fmt.Sprintf("%s (%s): block cache %s, memtables 4 x %s, object cache %s (%s decoded, %s encoded), Go heap limit %s",
		FormatBytes(p.Budget), p.Source, FormatBytes(p.BlockCache), FormatBytes(p.MemTable), FormatBytes(p.ObjectCache), FormatBytes(dec), FormatBytes(enc), FormatBytes(p.GoHeapLimit))
}

// MachineMemory returns the memory this process may use: the smaller of
// physical memory (/proc/meminfo) and the cgroup's limit, or 0 if neither
// is known.
func MachineMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total = kb << 10
				}
			}
		}
		f.Close()
	}
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if lim, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && lim > 0 && (total == 0 || lim < total) {
			total = lim
		}
	}
	return total
}

// ParseBytes parses a size such as 4GiB, 512MiB, 1.5G or 1048576 (bytes).
// Units are powers of 1024 whether written KiB or K, MB or M.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRight(t, "KMGTiBkmgtb")
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	mult := int64(1)
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I") {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (use KiB, MiB, GiB or TiB)", s, unit)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: not a non-negative number with a unit such as 4GiB", s)
	}
	return int64(v * float64(mult)), nil
}

// FormatBytes renders a size with a binary unit (1.5 GiB).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
