package metrics

import "github.com/prometheus/client_golang/prometheus"

// StorageStats is a node's storage engine and object cache as one scrape
// sees them.
type StorageStats struct {
	DiskBytes             uint64
	CompactionDebtBytes   uint64
	CompactionsInProgress int64
	ReadAmp               int
	L0Files               int64
	MemTableBytes         uint64
	BlockCacheBytes       int64
	BlockCacheHits        int64
	BlockCacheMisses      int64
	ObjectCacheBytes      int64
	ObjectCacheEntries    int64
	ObjectCacheHits       int64
	ObjectCacheMisses     int64
	EncodedCacheBytes     int64
	EncodedCacheRecords   int64
	EncodedCacheHits      int64
}

type storageCollector struct {
	stats func() StorageStats
	descs []*prometheus.Desc
}

// RegisterStorage exports the figures stats returns (called once per
// scrape; it must be safe for concurrent use).
func (r *Registry) RegisterStorage(stats func() StorageStats) {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	r.reg.MustRegister(&storageCollector{stats: stats, descs: []*prometheus.Desc{
		d("riakgo_storage_disk_bytes", "Disk space the storage engine's files take."),
		d("riakgo_storage_compaction_debt_bytes", "Bytes compactions must still rewrite for the LSM to be in shape (0 when settled)."),
		d("riakgo_storage_compactions_in_progress", "Compactions running."),
		d("riakgo_storage_read_amplification", "Sorted runs on disk a point read may consult (L0 sublevels and non-empty levels)."),
		d("riakgo_storage_l0_files", "Tables in level 0."),
		d("riakgo_storage_memtable_used_bytes", "Memory of the memtables, active and flushing."),
		d("riakgo_storage_block_cache_used_bytes", "Block cache in use."),
		d("riakgo_storage_block_cache_hits_total", "Block cache lookups that hit."),
		d("riakgo_storage_block_cache_misses_total", "Block cache lookups that missed."),
		d("riakgo_object_cache_used_bytes", "Decoded-object cache in use."),
		d("riakgo_object_cache_entries", "Objects (and known-absent keys) in the decoded-object cache."),
		d("riakgo_object_cache_hits_total", "Replica reads that read no value from storage (cached, or equal to a cached replica by its stored sum)."),
		d("riakgo_object_cache_misses_total", "Replica reads that read the value from storage."),
		d("riakgo_object_cache_encoded_used_bytes", "The object cache's encoded tier in use (outside the Go heap)."),
		d("riakgo_object_cache_encoded_records", "Records in the encoded tier: one per cached replica, one per key's encoding."),
		d("riakgo_object_cache_encoded_hits_total", "Replica reads the encoded tier served by decoding its copy (counted in the hits too)."),
	}})
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	g, k := prometheus.GaugeValue, prometheus.CounterValue
	vals := []struct {
		t prometheus.ValueType
		v float64
	}{
		{g, float64(s.DiskBytes)}, {g, float64(s.CompactionDebtBytes)}, {g, float64(s.CompactionsInProgress)},
		{g, float64(s.ReadAmp)}, {g, float64(s.L0Files)}, {g, float64(s.MemTableBytes)},
		{g, float64(s.BlockCacheBytes)}, {k, float64(s.BlockCacheHits)}, {k, float64(s.BlockCacheMisses)},
		{g, float64(s.ObjectCacheBytes)}, {g, float64(s.ObjectCacheEntries)}, {k, float64(s.ObjectCacheHits)},
		{k, float64(s.ObjectCacheMisses)},
		{g, float64(s.EncodedCacheBytes)}, {g, float64(s.EncodedCacheRecords)}, {k, float64(s.EncodedCacheHits)},
	}
	for i, v := range vals {
		ch <- prometheus.MustNewConstMetric(c.descs[i], v.t, v.v)
	}
}
