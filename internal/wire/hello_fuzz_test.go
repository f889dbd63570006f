package wire

import "testing"

// FuzzCheckHello: a peer's Hello, however built, never panics the check,
// and an accepted one names a node and a version both speak.
func FuzzCheckHello(f *testing.F) {
	h := NewHello("a", "riakgo")
	h.Nonce = make([]byte, NonceSize)
	b, _ := MarshalBody(&h)
	f.Add(b)
	f.Add([]byte{0x80})
	local := NewHello("b", "riakgo")
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Hello
		if DecodeBody(b, &h) != nil {
			return
		}
		v, err := CheckHello(local, h)
		if err == nil && (h.Node == "" || v < MinProtocolVersion || v > ProtocolVersion) {
			t.Fatalf("accepted %+v at version %d", h, v)
		}
	})
}
