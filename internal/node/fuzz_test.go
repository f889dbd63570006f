package node

import (
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// FuzzUnwrapState: the gossip payload decoder (memberlist push/pull and
// broadcasts carry it) never panics, and what it accepts encodes again.
func FuzzUnwrapState(f *testing.F) {
	if st, err := ring.NewState("c", 16, 3, "a@127.0.0.1", ring.MemberMeta{GossipAddr: "127.0.0.1:1"}, 1); err == nil {
		f.Add(wrapState("a@127.0.0.1", st, []byte("digest")))
	}
	f.Add([]byte{})
	f.Add([]byte{2, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		from, theirs, _, err := unwrapState(b)
		if err != nil {
			return
		}
		if _, _, _, err := unwrapState(wrapState(from, theirs, nil)); err != nil {
			t.Fatalf("re-encoding an accepted state: %v", err)
		}
	})
}
