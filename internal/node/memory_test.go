package node

import (
	"strings"
	"testing"

	"github.com/riakgo/riakgo/kv"
)

func TestPlanMemory(t *testing.T) {
	const gib = 1 << 30
	cases := []struct {
		budget, machine                     int64
		wantBudget, block, memtable, object int64
		source                              string
	}{
		{0, 24 * gib, 12 * gib, 12 * gib * 20 / 100, 64 << 20, 12 * gib * 40 / 100, "50% of the machine's 24.0 GiB"}, // memtables capped
		{2 * gib, 24 * gib, 2 * gib, 2 * gib * 20 / 100, 2 * gib / 40, 2 * gib * 40 / 100, "--memory"},
		{64 * gib, 0, 64 * gib, 64 * gib * 20 / 100, 64 << 20, 64 * gib * 40 / 100, "--memory"},
		{0, 400 << 20, MinMemoryBudget, MinMemoryBudget * 20 / 100, 6710886, MinMemoryBudget * 40 / 100, "raised to the minimum"},
		{0, 0, MinMemoryBudget, MinMemoryBudget * 20 / 100, 6710886, MinMemoryBudget * 40 / 100, "raised to the minimum"},
	}
	for _, c := range cases {
		p := PlanMemory(c.budget, c.machine)
		if p.Budget != c.wantBudget || p.BlockCache != c.block || p.MemTable != c.memtable || p.ObjectCache != c.object ||
			!strings.Contains(p.Source, c.source) || p.GoHeapLimit != p.Budget*25/100 {
			t.Errorf("PlanMemory(%d, %d) = %+v", c.budget, c.machine, p)
		}
		// What the plan holds outside the Go heap plus the heap's limit
		// stays within the budget.
		dec, enc := p.ObjectCacheTiers()
		if dec+enc != p.ObjectCache || enc < kv.MinEncodedCacheBytes || dec < p.ObjectCache/8 {
			t.Errorf("PlanMemory(%d, %d): object cache %d split into %d decoded and %d encoded", c.budget, c.machine, p.ObjectCache, dec, enc)
		}
		if p.BlockCache+4*p.MemTable+enc+p.GoHeapLimit > p.Budget*9/10 {
			t.Errorf("PlanMemory(%d, %d) exceeds its budget: %+v", c.budget, c.machine, p)
		}
	}
}

func TestConfigMemoryOverrides(t *testing.T) {
	c := DefaultConfig()
	c.Memory = 1 << 30
	if p := c.memoryPlan(); p.BlockCache != (1<<30)*20/100 || p.ObjectCache != (1<<30)*40/100 {
		t.Fatalf("plan from the budget: %+v", p)
	}
	c.BlockCacheMiB, c.ObjectCacheMiB = 64, 0
	if p := c.memoryPlan(); p.BlockCache != 64<<20 || p.ObjectCache != 0 {
		t.Fatalf("explicit sizes: %+v", p)
	}
	c.ObjectCacheMiB = 36 // too small for an encoded tier: all decoded
	if dec, enc := c.memoryPlan().ObjectCacheTiers(); dec != 36<<20 || enc != 0 {
		t.Fatalf("36 MiB object cache split into %d decoded and %d encoded", dec, enc)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"4GiB": 4 << 30, "512MiB": 512 << 20, "1.5G": 3 << 29, "1048576": 1 << 20, "2 gb": 2 << 30, "64k": 64 << 10} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "4XB", "-1GiB", "four"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	if got := FormatBytes(3 << 29); got != "1.5 GiB" {
		t.Errorf("FormatBytes = %q", got)
	}
}

func TestMachineMemory(t *testing.T) {
	if m := MachineMemory(); m <= 0 {
		t.Skip("no /proc/meminfo here")
	} else if m < 64<<20 {
		t.Fatalf("MachineMemory() = %d: implausibly small", m)
	}
}
