package membership_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/membership"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []membership.Meta{
		{},
		{ClusterAddr: "127.0.0.1:8099", HTTPAddr: "127.0.0.1:8098", Incarnation: math.MaxUint64, Ready: true},
		{Incarnation: 1 << 63},
	} {
		b, err := membership.EncodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := membership.DecodeMeta(b)
		if err != nil || got != m {
			t.Fatalf("round trip of %+v: %+v, %v (encoded %s)", m, got, err, b)
		}
	}
	// The encoding is compact.
	b, _ := membership.EncodeMeta(membership.Meta{ClusterAddr: "127.0.0.1:8099", HTTPAddr: "127.0.0.1:8098", Incarnation: math.MaxUint64, Ready: true})
	if want := `{"c":"127.0.0.1:8099","h":"127.0.0.1:8098","i":18446744073709551615,"r":true}`; string(b) != want {
		t.Fatalf("encoded %s, want %s", b, want)
	}
	// Unknown fields are ignored: meta can grow.
	if got, err := membership.DecodeMeta([]byte(`{"c":"x","future":[1,2]}`)); err != nil || got.ClusterAddr != "x" {
		t.Fatalf("decode with an unknown field: %+v, %v", got, err)
	}
}

func TestMetaLimits(t *testing.T) {
	_, err := membership.EncodeMeta(membership.Meta{HTTPAddr: strings.Repeat("h", membership.MetaMaxSize)})
	if !errors.Is(err, membership.ErrMetaTooLarge) {
		t.Fatalf("EncodeMeta(huge) = %v, want ErrMetaTooLarge", err)
	}
	if _, err := membership.DecodeMeta([]byte("not json")); !errors.Is(err, membership.ErrBadMeta) {
		t.Fatalf("DecodeMeta(garbage) = %v, want ErrBadMeta", err)
	}
	if m, err := membership.DecodeMeta(nil); err != nil || m != (membership.Meta{}) {
		t.Fatalf("DecodeMeta(nil) = %+v, %v", m, err)
	}
}

func TestNewIncarnation(t *testing.T) {
	seen := map[uint64]bool{}
	for range 100 {
		v := membership.NewIncarnation()
		if v == 0 || seen[v] {
			t.Fatalf("incarnation %d zero or repeated", v)
		}
		seen[v] = true
	}
}

func TestStrings(t *testing.T) {
	m := membership.Member{ID: "a", GossipAddr: "127.0.0.1:7946", State: membership.StateSuspect, Meta: membership.Meta{Ready: true, Incarnation: 255}}
	if !m.Up() || !m.Alive() || m.Incarnation() != 255 {
		t.Fatalf("suspect ready member: Up=%v Alive=%v", m.Up(), m.Alive())
	}
	if got, want := (membership.Event{Type: membership.EventFail, Member: m}).String(), "fail a(127.0.0.1:7946) suspect ready inc=00000000000000ff"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	for _, s := range []membership.State{membership.StateDead, membership.StateLeft} {
		if (membership.Member{State: s, Meta: membership.Meta{Ready: true}}).Up() {
			t.Fatalf("%v member up", s)
		}
	}
}
