package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

func sampleObject() *siblings.Object {
	a := vclock.Actor{ID: 0xdeadbeef, Epoch: 3}
	b := vclock.Actor{ID: 0xfeed, Epoch: 1}
	clk := vclock.Normalize([]vclock.Entry{{Actor: a, Counter: 4, Timestamp: 1700000000}, {Actor: b, Counter: 1, Timestamp: -5}})
	return &siblings.Object{
		Clock: clk,
		Siblings: []siblings.Sibling{
			{Dot: vclock.Dot{Actor: a, Counter: 4}, Value: []byte("hello"), Meta: siblings.Meta{
				ContentType: "text/plain", Charset: "utf-8", ContentEncoding: "gzip", VTag: "abc", LastModified: 1700000000123456,
				UserMeta: []siblings.Pair{{Key: "Color", Value: "red"}},
				Indexes:  []siblings.IndexEntry{{Field: "age_int", Value: "42"}, {Field: "name_bin", Value: "x"}},
				Links:    []siblings.Link{{Bucket: "b", Key: "k", Tag: "friend"}},
			}},
			{Value: []byte{}, Meta: siblings.Meta{VTag: "t", Deleted: true}},
		},
	}
}

func TestObjectRoundTrip(t *testing.T) {
	for _, o := range []*siblings.Object{sampleObject(), {}, {Siblings: []siblings.Sibling{{Value: []byte{}}}}} {
		enc := EncodeObject(o)
		if enc[0] != ObjectFormatV1 {
			t.Fatalf("format byte %d", enc[0])
		}
		got, err := DecodeObject(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, o)
		}
	}
}

func TestObjectDecodeRejects(t *testing.T) {
	good := EncodeObject(sampleObject())
	cases := map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-3],
		"trailing":       append(append([]byte{}, good...), 0xc0),
		"not array":      {ObjectFormatV1, 0xc0},
	}
	for name, b := range cases {
		if _, err := DecodeObject(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeObject(f *testing.F) {
	f.Add(EncodeObject(sampleObject()))
	f.Add(EncodeObject(&siblings.Object{}))
	f.Add([]byte{ObjectFormatV1, 0x92, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeObject(b)
		if err != nil {
			return
		}
		again, err := DecodeObject(EncodeObject(o))
		if err != nil || !reflect.DeepEqual(again, o) {
			t.Fatalf("accepted input does not round-trip: %v", err)
		}
	})
}

func BenchmarkEncodeObject(b *testing.B) {
	o := sampleObject()
	o.Siblings[0].Value = make([]byte, 1024)
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = AppendObject(buf[:0], o)
	}
}

func BenchmarkDecodeObject(b *testing.B) {
	o := sampleObject()
	o.Siblings[0].Value = make([]byte, 1024)
	enc := EncodeObject(o)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeObject(enc); err != nil {
			b.Fatal(err)
		}
	}
}
