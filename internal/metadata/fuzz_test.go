package metadata

import (
	"testing"

	"github.com/riakgo/riakgo/internal/wire"
)

// FuzzMergeEntries: whatever a peer sends in a push or sync, decoding and
// merging never panics, and merging is idempotent.
func FuzzMergeEntries(f *testing.F) {
	e := Entry{}.Write("a", 1, []byte("v"), false)
	b, _ := wire.MarshalBody(&pushReq{Cluster: "c", Entries: []wireEntry{{Key: "bucket_types\x00t", Entry: e}}})
	f.Add(b)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req pushReq
		if wire.DecodeBody(b, &req) != nil {
			return
		}
		for _, we := range req.Entries {
			in, ok := normalize(we.Entry)
			if !ok {
				continue
			}
			once := Merge(Entry{}, in)
			if twice := Merge(once, in); !Equal(once, twice) {
				t.Fatalf("merge not idempotent for %+v", in)
			}
			once.Resolve()
		}
	})
}
