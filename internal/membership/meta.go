package membership

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// MetaMaxSize is the largest encoded Meta a node may gossip: memberlist's
// MetaMaxSize (the memberlist adapter asserts that the two agree).
const MetaMaxSize = 512

// Meta is what a node gossips about itself with its liveness. It is
// encoded as compact JSON (EncodeMeta); unknown fields are ignored when
// decoding, so fields can be added.
type Meta struct {
	// ClusterAddr is the node's internode (TCP transport) address.
	ClusterAddr string `json:"c,omitempty"`
	// HTTPAddr is the node's HTTP API address.
	HTTPAddr string `json:"h,omitempty"`
	// Incarnation is a random non-zero number minted at each process
	// start (NewIncarnation): everything a node registered in an earlier
	// incarnation is dead once a newer one is seen.
	Incarnation uint64 `json:"i,omitempty"`
	// Ready is the service-ready flag: the node's vnodes serve requests.
	// A node that is alive but not ready is not Up.
	Ready bool `json:"r,omitempty"`
}

// EncodeMeta encodes m. It fails with an error wrapping ErrMetaTooLarge if
// the encoding exceeds MetaMaxSize bytes.
func EncodeMeta(m Meta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("riakgo/membership: encode meta: %w", err)
	}
	if len(b) > MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, the limit is %d", ErrMetaTooLarge, len(b), MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta decodes what EncodeMeta produced. Empty input is the zero
// Meta. Errors wrap ErrBadMeta.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	return m, nil
}

// NewIncarnation returns a random non-zero 64-bit incarnation from the
// runtime's cryptographically seeded generator. It is never derived from
// the clock.
func NewIncarnation() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}
