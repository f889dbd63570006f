package ring_test

import (
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// bigState is a settled 16-node cluster on 1024 partitions.
func bigState(b *testing.B) (*cluster, ring.State) {
	c := newCluster(b, 1024, nodeName(1))
	for i := 2; i <= 16; i++ {
		if err := c.join(nodeName(i), nodeName(1)); err != nil {
			b.Fatal(err)
		}
	}
	c.converge()
	c.planCommit()
	c.settle()
	return c, c.agreed()
}

func BenchmarkState1024x16(b *testing.B) {
	c, st := bigState(b)
	bs, _ := st.MarshalBinary()
	b.Logf("encoded state: %d bytes", len(bs))
	other, _ := c.state[nodeName(2)].UpdateMeta(nodeName(2), ring.MemberMeta{Incarnation: 9}, c.tick())
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = st.MarshalBinary()
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var x ring.State
			_ = x.UnmarshalBinary(bs)
		}
	})
	b.Run("Merge", func(b *testing.B) {
		for b.Loop() {
			_, _ = ring.Merge(st, other)
		}
	})
	b.Run("Reconcile+Advance", func(b *testing.B) {
		for b.Loop() {
			m, _, _ := ring.Reconcile(st, other, nodeName(2))
			_, _ = m.Advance(nodeName(1), 1)
		}
	})
	b.Run("Equal", func(b *testing.B) {
		for b.Loop() {
			_ = ring.Equal(st, other)
		}
	})
}

func BenchmarkClaimJoin1024(b *testing.B) {
	members := []ring.NodeID{}
	owners := same(nodeName(1), 1024)
	for i := 1; i <= 15; i++ {
		members = append(members, nodeName(i))
		owners = ring.Claim(owners, members, 4)
	}
	members = append(members, nodeName(16))
	for b.Loop() {
		_ = ring.Claim(owners, members, 4)
	}
}

// BenchmarkClaimSettled is the claimant's steady state: claim on a ring it
// produced itself (a fixed point).
func BenchmarkClaimSettled(b *testing.B) {
	for _, n := range []int{3, 16} {
		members := []ring.NodeID{}
		owners := same(nodeName(1), 1024)
		for i := 1; i <= n; i++ {
			members = append(members, nodeName(i))
			owners = ring.Claim(owners, members, 4)
		}
		b.Run(string(rune('0'+n/10))+string(rune('0'+n%10))+"nodes", func(b *testing.B) {
			for b.Loop() {
				_ = ring.Claim(owners, members, 4)
			}
		})
	}
}
