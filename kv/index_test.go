package kv

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
)

// Internal tests of the 2i entry encoding. The service-level index tests
// (maintenance with the object, queries, pagination) are in list_test.go.

// indexRand returns a seeded generator; the black-box tests' -seed flag
// replays it.
func indexRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if f := flag.Lookup("seed"); f != nil {
		if s, err := strconv.ParseUint(f.Value.String(), 10, 64); err == nil && s != 0 {
			seed = s
		}
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0x2a))
}

// encodeEntry is an entry's suffix after the field prefix: term then key.
func encodeEntry(t *testing.T, field, term, key string) []byte {
	t.Helper()
	b, err := appendTerm(nil, field, term)
	if err != nil {
		t.Fatalf("appendTerm(%s, %q): %v", field, term, err)
	}
	return append(b, key...)
}

func sign(n int) int { return cmp.Compare(n, 0) }

func TestIntTermEncodingPreservesOrder(t *testing.T) {
	r := indexRand(t)
	special := []int64{math.MinInt64, math.MinInt64 + 1, -256, -255, -1, 0, 1, 255, 256, math.MaxInt64 - 1, math.MaxInt64}
	gen := func() int64 {
		switch r.IntN(4) {
		case 0:
			return special[r.IntN(len(special))]
		case 1:
			return int64(r.IntN(21)) - 10 // many equal terms
		default:
			return int64(r.Uint64())
		}
	}
	keys := []string{"", "a", "a\x00", "b", "\xff"}
	for i := 0; i < 20000; i++ {
		a, b := gen(), gen()
		ka, kb := keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]
		ea := encodeEntry(t, "age_int", strconv.FormatInt(a, 10), ka)
		eb := encodeEntry(t, "age_int", strconv.FormatInt(b, 10), kb)
		want := cmp.Compare(a, b)
		if want == 0 {
			want = cmp.Compare(ka, kb)
		}
		if got := bytes.Compare(ea, eb); sign(got) != want {
			t.Fatalf("(%d, %q) vs (%d, %q): encoded order %d, want %d", a, ka, b, kb, got, want)
		}
		term, key, err := decodeTerm("age_int", ea)
		if err != nil || term != strconv.FormatInt(a, 10) || key != ka {
			t.Fatalf("decodeTerm(encode(%d, %q)) = %q, %q, %v", a, ka, term, key, err)
		}
	}
}

func TestBinTermEncodingPreservesOrder(t *testing.T) {
	r := indexRand(t)
	// A small alphabet with the escape-relevant bytes makes prefixes,
	// equal terms and embedded 0x00/0xff common.
	alphabet := []byte{0x00, 0x01, 0x02, 'a', 'b', 0xfe, 0xff}
	gen := func() string {
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for i := 0; i < 50000; i++ {
		a, b := gen(), gen()
		ka, kb := gen(), gen()
		ea := encodeEntry(t, "name_bin", a, ka)
		eb := encodeEntry(t, "name_bin", b, kb)
		want := cmp.Compare(a, b)
		if want == 0 {
			want = cmp.Compare(ka, kb)
		}
		if got := bytes.Compare(ea, eb); sign(got) != want {
			t.Fatalf("(%q, %q) vs (%q, %q): encoded %x vs %x order %d, want %d", a, ka, b, kb, ea, eb, got, want)
		}
		term, key, err := decodeTerm("name_bin", ea)
		if err != nil || term != a || key != ka {
			t.Fatalf("decodeTerm(encode(%q, %q)) = %q, %q, %v", a, ka, term, key, err)
		}
	}
}

func TestTermEncodingEdgeCases(t *testing.T) {
	for _, tc := range []struct{ term, want string }{
		{"", "\x00\x01"},
		{"a", "a\x00\x01"},
		{"\x00", "\x00\xff\x00\x01"},
		{"a\x00b", "a\x00\xffb\x00\x01"},
		{"\xff", "\xff\x00\x01"},
	} {
		got, err := appendTerm(nil, "x_bin", tc.term)
		if err != nil || string(got) != tc.want {
			t.Errorf("appendTerm(x_bin, %q) = %x, %v; want %x", tc.term, got, err, tc.want)
		}
	}
	for _, term := range []string{"abc", "", "1.5", "9223372036854775808", "-9223372036854775809", "0x10"} {
		if _, err := appendTerm(nil, "x_int", term); !errors.Is(err, ErrBadIndex) {
			t.Errorf("appendTerm(x_int, %q): %v, want ErrBadIndex", term, err)
		}
	}
	// Integer terms are canonical: " 7" and "007" encode as 7.
	seven, _ := appendTerm(nil, "x_int", "7")
	for _, term := range []string{" 7", "007", "+7"} {
		if got, err := appendTerm(nil, "x_int", term); err != nil || !bytes.Equal(got, seven) {
			t.Errorf("appendTerm(x_int, %q) = %x, %v; want %x", term, got, err, seven)
		}
	}
	for _, tc := range []struct {
		field  string
		suffix string
	}{
		{"x_int", "\x80\x00"},    // short integer term
		{"x_bin", "abc"},         // unterminated
		{"x_bin", "abc\x00"},     // truncated escape
		{"x_bin", "abc\x00\x05"}, // bad escape
	} {
		if term, key, err := decodeTerm(tc.field, []byte(tc.suffix)); !errors.Is(err, ErrBadIndex) {
			t.Errorf("decodeTerm(%s, %x) = %q, %q, %v; want ErrBadIndex", tc.field, tc.suffix, term, key, err)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a", "b"},
		{"a\xff", "b"},
		{"a\xfe", "a\xff"},
		{"\x00", "\x01"},
	} {
		if got := prefixEnd([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("prefixEnd(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"", "\xff", "\xff\xff"} {
		if got := prefixEnd([]byte(in)); got != nil {
			t.Errorf("prefixEnd(%x) = %x, want nil", in, got)
		}
	}
}

func idx(pairs ...string) []siblings.IndexEntry {
	var out []siblings.IndexEntry
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, siblings.IndexEntry{Field: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// entrySet renders index-space keys as "field=term/key" strings.
func entrySet(t *testing.T, k Key, keys map[string]struct{}) map[string]bool {
	t.Helper()
	prefix := appendIndexPrefix(nil, k.Type, k.Bucket, "")
	out := map[string]bool{}
	for raw := range keys {
		b := []byte(raw)
		if !bytes.HasPrefix(b, prefix[:len(prefix)-1]) {
			t.Fatalf("entry %x is not under %s/%s", b, k.Type, k.Bucket)
		}
		// Field length, field, then term and key.
		rest := b[len(prefix)-1:]
		n := int(rest[0])
		field := string(rest[1 : 1+n])
		term, key, err := decodeTerm(field, rest[1+n:])
		if err != nil {
			t.Fatalf("entry %x: %v", b, err)
		}
		out[field+"="+term+"/"+key] = true
	}
	return out
}

func TestIndexKeysOfSiblings(t *testing.T) {
	k := Key{Type: DefaultType, Bucket: "b", Key: "k"}
	live1 := siblings.Sibling{Value: []byte("1"), Meta: siblings.Meta{Indexes: idx("a_bin", "x", "n_int", "5")}}
	live2 := siblings.Sibling{Value: []byte("2"), Meta: siblings.Meta{Indexes: idx("a_bin", "x", "a_bin", "y")}}
	dead := siblings.Sibling{Meta: siblings.Meta{Deleted: true, Indexes: idx("a_bin", "z", "n_int", "6")}}
	bad := siblings.Sibling{Value: []byte("3"), Meta: siblings.Meta{Indexes: idx("n_int", "NaN")}}
	o := &siblings.Object{Siblings: []siblings.Sibling{live1, live2, dead, bad}}
	got := entrySet(t, k, indexKeys(k, o))
	want := map[string]bool{"a_bin=x/k": true, "a_bin=y/k": true, "n_int=5/k": true}
	if len(got) != len(want) {
		t.Fatalf("indexKeys = %v, want %v (live siblings only, deduplicated)", got, want)
	}
	for e := range want {
		if !got[e] {
			t.Errorf("indexKeys = %v, missing %s", got, e)
		}
	}
	if ks := indexKeys(k, &siblings.Object{Siblings: []siblings.Sibling{dead}}); len(ks) != 0 {
		t.Errorf("a tombstone's entries: %v, want none", entrySet(t, k, ks))
	}
	if ks := indexKeys(k, nil); len(ks) != 0 {
		t.Errorf("nil object's entries: %v, want none", ks)
	}
}

func TestAddIndexChanges(t *testing.T) {
	k := Key{Type: "t", Bucket: "b", Key: "k"}
	mk := func(pairs ...string) *siblings.Object {
		return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte("v"), Meta: siblings.Meta{Indexes: idx(pairs...)}}}}
	}
	old := mk("a_bin", "x", "a_bin", "y", "n_int", "1")
	nw := mk("a_bin", "y", "n_int", "2")
	var b storage.Batch
	addIndexChanges(&b, 7, k, old, nw)
	dels, sets := map[string]struct{}{}, map[string]struct{}{}
	for _, op := range b.Ops {
		if op.Space != storage.SpaceIndex || op.Partition != 7 {
			t.Fatalf("op %+v: want the index space of partition 7", op)
		}
		switch op.Kind {
		case storage.OpDelete:
			dels[string(op.Key)] = struct{}{}
		case storage.OpSet:
			sets[string(op.Key)] = struct{}{}
		default:
			t.Fatalf("op kind %v", op.Kind)
		}
	}
	gotDel, gotSet := entrySet(t, k, dels), entrySet(t, k, sets)
	if len(gotDel) != 2 || !gotDel["a_bin=x/k"] || !gotDel["n_int=1/k"] {
		t.Errorf("deleted %v, want a_bin=x and n_int=1", gotDel)
	}
	if len(gotSet) != 1 || !gotSet["n_int=2/k"] {
		t.Errorf("set %v, want n_int=2 only (a_bin=y is unchanged)", gotSet)
	}

	b.Reset()
	addIndexChanges(&b, 7, k, nil, &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte("v")}}})
	if b.Len() != 0 {
		t.Errorf("objects without indexes: %d ops, want none", b.Len())
	}
	b.Reset()
	addIndexChanges(&b, 7, k, old, nil)
	if b.Len() != 3 {
		t.Errorf("removing an object with 3 entries: %d ops, want 3 deletes", b.Len())
	}
}
