package membership

import "testing"

// FuzzDecodeMeta: a member's gossiped meta never panics the decoder, and
// what it accepts round-trips.
func FuzzDecodeMeta(f *testing.F) {
	if b, err := EncodeMeta(Meta{ClusterAddr: "127.0.0.1:8099", HTTPAddr: "127.0.0.1:8098", Incarnation: 7, Ready: true}); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		enc, err := EncodeMeta(m)
		if err != nil {
			return // accepted but too large to send again: harmless
		}
		if m2, err := DecodeMeta(enc); err != nil || m2 != m {
			t.Fatalf("round trip of %+v: %+v %v", m, m2, err)
		}
	})
}
