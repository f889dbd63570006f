package dt

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/riakgo/riakgo/vclock"
)

// HLL precision bounds and default, as Riak's hll_precision bucket property.
const (
	MinHLLPrecision     = 4
	MaxHLLPrecision     = 16
	DefaultHLLPrecision = 14
)

// HLL is a HyperLogLog cardinality sketch (Riak 2.2's hll type): 2^p
// one-byte registers, add-only, merged register by register with max. Its
// value is the estimated number of distinct elements added, with a relative
// standard error of about 1.04/√(2^p) (0.8 % at the default precision 14).
//
// Elements are hashed with 64-bit FNV-1a followed by the MurmurHash3
// finaliser, a fixed function, so every node fills the same registers.
// The estimate is Ertl's improved raw estimator ("New cardinality
// estimation algorithms for HyperLogLog sketches", 2017), which corrects the
// small-range bias that linear counting and the large-range bias that HLL++'s
// empirical tables address, without tables, over the whole range.
//
// Merging sketches of different precisions folds the finer one down to the
// coarser precision first (exactly, as if its elements had been added at
// that precision), as Riak does; Reduce lowers a sketch's precision when a
// bucket's hll_precision is lowered. Precision can never be raised.
//
// The zero HLL is empty at DefaultHLLPrecision.
type HLL struct {
	p    uint8   // 0 means DefaultHLLPrecision
	regs []uint8 // nil while empty, else 2^p registers; owned by this value
}

// NewHLL returns an empty sketch of precision p (4..16).
func NewHLL(p int) (*HLL, error) {
	if p < MinHLLPrecision || p > MaxHLLPrecision {
		return nil, fmt.Errorf("%w: hll precision %d outside %d..%d", ErrInvalidOp, p, MinHLLPrecision, MaxHLLPrecision)
	}
	return &HLL{p: uint8(p)}, nil
}

// Precision returns the sketch's precision.
func (h *HLL) Precision() int {
	if h.p == 0 {
		return DefaultHLLPrecision
	}
	return int(h.p)
}

// Kind reports KindHLL.
func (*HLL) Kind() Kind { return KindHLL }

// hash64 is FNV-1a 64 with the MurmurHash3 64-bit finaliser on top, which
// spreads FNV's weak high bits over the whole word.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Apply adds op.Elements. No actor or context is needed.
func (h *HLL) Apply(op HLLOp) error {
	if len(op.Elements) == 0 {
		return nil
	}
	p := h.Precision()
	if h.regs == nil {
		h.p = uint8(p)
		h.regs = make([]uint8, 1<<p)
	}
	for _, x := range op.Elements {
		v := hash64(x)
		i := v >> (64 - p)
		w := v << p
		r := uint8(64 - p + 1)
		if w != 0 {
			r = uint8(bits.LeadingZeros64(w) + 1)
		}
		if r > h.regs[i] {
			h.regs[i] = r
		}
	}
	return nil
}

// ApplyOp applies an HLLOp; actor and ctx are ignored.
func (h *HLL) ApplyOp(op Op, _ vclock.Actor, _ Context) error {
	o, ok := op.(HLLOp)
	if !ok {
		return mismatch(KindHLL, op)
	}
	return h.Apply(o)
}

// Reduce lowers the precision to p, folding registers exactly. Raising the
// precision, or a p outside 4..16, is refused with ErrInvalidOp.
func (h *HLL) Reduce(p int) error {
	cur := h.Precision()
	if p < MinHLLPrecision || p > cur {
		return fmt.Errorf("%w: cannot change hll precision %d to %d (it may only be lowered, to at least %d)", ErrInvalidOp, cur, p, MinHLLPrecision)
	}
	h.regs = foldRegs(h.regs, cur, p)
	h.p = uint8(p)
	return nil
}

// foldRegs maps registers of precision from to precision to < from. The
// index bits that are dropped become the leading bits of the rank's word.
func foldRegs(regs []uint8, from, to int) []uint8 {
	if regs == nil || from == to {
		return regs
	}
	shift := from - to
	out := make([]uint8, 1<<to)
	for i, r := range regs {
		if r == 0 {
			continue
		}
		b := i & (1<<shift - 1)
		nr := uint8(shift + int(r))
		if b != 0 {
			nr = uint8(shift - bits.Len(uint(b)) + 1)
		}
		if j := i >> shift; nr > out[j] {
			out[j] = nr
		}
	}
	return out
}

// Cardinality returns the rounded estimate of the number of distinct
// elements added.
func (h *HLL) Cardinality() uint64 {
	if h.regs == nil {
		return 0
	}
	p := h.Precision()
	q := 64 - p
	m := float64(len(h.regs))
	hist := make([]float64, q+2)
	for _, r := range h.regs {
		hist[r]++
	}
	if hist[0] == m {
		return 0
	}
	z := m * ertlTau(1-hist[q+1]/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + hist[k])
	}
	z += m * ertlSigma(hist[0]/m)
	est := m * m / (2 * math.Ln2) / z
	return uint64(math.Round(est))
}

// ertlSigma is σ(x) = x + Σ_{k≥1} x^(2^k)·2^(k−1), for x < 1.
func ertlSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

// ertlTau is τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^−k))²·2^−k) / 3.
func ertlTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// Value returns Cardinality() as a uint64.
func (h *HLL) Value() any { return h.Cardinality() }

// Context returns the zero Context: an HLL needs none.
func (*HLL) Context() Context { return Context{} }

// Merge takes the register-wise max, first folding the finer sketch down to
// the coarser precision.
func (h *HLL) Merge(other CRDT) error {
	o, ok := other.(*HLL)
	if !ok {
		return mismatch(KindHLL, other)
	}
	if o == nil || o == h {
		return nil
	}
	hp, op := h.Precision(), o.Precision()
	p := min(hp, op)
	h.regs = foldRegs(h.regs, hp, p)
	h.p = uint8(p)
	oregs := foldRegs(o.regs, op, p)
	if oregs == nil {
		return nil
	}
	if h.regs == nil {
		h.regs = make([]uint8, 1<<p)
	}
	for i, r := range oregs {
		if r > h.regs[i] {
			h.regs[i] = r
		}
	}
	return nil
}

// Clone returns a deep copy.
func (h *HLL) Clone() CRDT {
	c := &HLL{p: h.p}
	if h.regs != nil {
		c.regs = append([]uint8(nil), h.regs...)
	}
	return c
}

// Equal reports whether other is a sketch with the same precision and
// registers.
func (h *HLL) Equal(other CRDT) bool { return equalEncoding(h, other) }

// Stats reports the number of non-empty registers as Elements.
func (h *HLL) Stats() Stats {
	n := 0
	for _, r := range h.regs {
		if r != 0 {
			n++
		}
	}
	return Stats{Elements: n}
}

const (
	hllSparse = 0 // count, then (index gap, register) pairs
	hllDense  = 1 // 2^p register bytes
)

// MarshalBinary encodes the sketch: tag 'H', version, precision, then
// either the non-zero registers as (index gap, value) pairs or all 2^p
// registers, whichever is shorter (dense on a tie), so the form is a
// function of the state.
func (h *HLL) MarshalBinary() ([]byte, error) {
	p := h.Precision()
	m := 1 << p
	nz, sparse := 0, 0
	last := -1
	for i, r := range h.regs {
		if r != 0 {
			nz++
			sparse += uvarintLen(uint64(i-last-1)) + 1
			last = i
		}
	}
	sparse += uvarintLen(uint64(nz))
	if sparse < m {
		e := newEncoder(KindHLL, 2+sparse)
		e.byte(uint8(p))
		e.byte(hllSparse)
		e.uvarint(uint64(nz))
		last = -1
		for i, r := range h.regs {
			if r != 0 {
				e.uvarint(uint64(i - last - 1))
				e.byte(r)
				last = i
			}
		}
		return e.b, nil
	}
	e := newEncoder(KindHLL, 2+m)
	e.byte(uint8(p))
	e.byte(hllDense)
	e.b = append(e.b, h.regs...)
	return e.b, nil
}

func uvarintLen(u uint64) int { return (bits.Len64(u|1) + 6) / 7 }

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (h *HLL) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindHLL)
	p := int(d.byte())
	form := d.byte()
	if d.err == nil && (p < MinHLLPrecision || p > MaxHLLPrecision) {
		d.fail("hll precision %d", p)
	}
	if d.err != nil {
		return d.err
	}
	m := 1 << p
	maxR := uint8(64 - p + 1)
	v := HLL{p: uint8(p)}
	switch form {
	case hllSparse:
		n := d.count(2)
		if n > m {
			d.fail("%d registers at precision %d", n, p)
		}
		if n > 0 && d.err == nil {
			v.regs = make([]uint8, m)
		}
		i := -1
		for k := 0; k < n && d.err == nil; k++ {
			gap := d.uvarint()
			r := d.byte()
			if d.err != nil {
				break
			}
			if gap >= uint64(m-i-1) || r == 0 || r > maxR {
				d.fail("bad sparse hll register")
				break
			}
			i += int(gap) + 1
			v.regs[i] = r
		}
	case hllDense:
		if len(d.b) < m {
			d.fail("truncated hll registers")
			break
		}
		v.regs = append([]uint8(nil), d.b[:m]...)
		d.b = d.b[m:]
		for _, r := range v.regs {
			if r > maxR {
				d.fail("hll register %d out of range", r)
				break
			}
		}
	default:
		d.fail("hll form %d", form)
	}
	if err := d.finish(); err != nil {
		return err
	}
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*h = v
	return nil
}
