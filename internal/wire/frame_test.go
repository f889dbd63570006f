package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Sample message bodies, shaped like the ones kv and handoff will define.
type sampleGet struct {
	Partition uint16 `msgpack:"p"`
	Bucket    string `msgpack:"b"`
	Key       []byte `msgpack:"k"`
	R         int    `msgpack:"r"`
}

type sampleBatch struct {
	Partition uint16         `msgpack:"p"`
	Items     []sampleItem   `msgpack:"items"`
	Meta      map[string]any `msgpack:"meta"`
}

type sampleItem struct {
	Key   []byte `msgpack:"k"`
	Value []byte `msgpack:"v"`
}

// sampleGetV2 is sampleGet as a newer release might send it.
type sampleGetV2 struct {
	Partition uint16 `msgpack:"p"`
	Bucket    string `msgpack:"b"`
	Key       []byte `msgpack:"k"`
	R         int    `msgpack:"r"`
	Timeout   int64  `msgpack:"t"`
}

func TestFrameRoundTrip(t *testing.T) {
	cases := []struct {
		h    Header
		body any
		into func() any
	}{
		{Header{Type: MsgTest1, ReqID: 7, TimeoutMillis: 5000}, &sampleGet{Partition: 3, Bucket: "b", Key: []byte("k"), R: 2}, func() any { return new(sampleGet) }},
		{Header{Type: MsgTest2, Flags: FlagOneWay}, &sampleBatch{Partition: 9, Items: []sampleItem{{Key: []byte("a"), Value: []byte{0, 1}}}, Meta: map[string]any{"n": "x"}}, func() any { return new(sampleBatch) }},
		{Header{Type: MsgTest1, Flags: FlagResponse, ReqID: 1<<64 - 1}, &sampleGet{}, func() any { return new(sampleGet) }},
		{Header{Type: MsgPing, Flags: FlagResponse | FlagError, ReqID: 2}, &ErrorBody{Code: 3, Message: "boom"}, func() any { return new(ErrorBody) }},
		{Header{Type: MsgHello}, ptr(NewHello("a@h", "c")), func() any { return new(Hello) }},
	}
	var stream []byte
	for _, c := range cases {
		prefix := []byte("xyz")
		b, err := AppendFrame(prefix, c.h, c.body)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:3]) != "xyz" {
			t.Fatal("prefix clobbered")
		}
		f, n, err := DecodeFrame(b[3:])
		if err != nil {
			t.Fatal(err)
		}
		if n != len(b)-3 || f.Header != c.h {
			t.Fatalf("header %+v n %d, want %+v n %d", f.Header, n, c.h, len(b)-3)
		}
		got := c.into()
		if err := DecodeBody(f.Body, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.body) {
			t.Fatalf("body %#v, want %#v", got, c.body)
		}
		stream = append(stream, b[3:]...)
	}
	// The same frames read back one by one from a stream.
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, c := range cases {
		f, err := ReadFrame(r, 0)
		if err != nil || f.Header != c.h {
			t.Fatalf("ReadFrame: %+v %v", f.Header, err)
		}
	}
	if _, err := ReadFrame(r, 0); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecodeBodyDoesNotAlias(t *testing.T) {
	b, _ := AppendFrame(nil, Header{Type: MsgTest1}, &sampleGet{Key: []byte("key"), Bucket: "bucket"})
	f, _, _ := DecodeFrame(b)
	var g sampleGet
	if err := DecodeBody(f.Body, &g); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xff
	}
	if string(g.Key) != "key" || g.Bucket != "bucket" {
		t.Fatalf("decoded value aliases the frame: %q %q", g.Key, g.Bucket)
	}
}

func TestNilBodyDecodesToZero(t *testing.T) {
	b, _ := AppendFrame(nil, Header{Type: MsgTest1, Flags: FlagResponse}, nil)
	f, _, _ := DecodeFrame(b)
	g := sampleGet{R: 5}
	if err := DecodeBody(f.Body, &g); err != nil {
		t.Fatalf("nil body into a struct: %v", err)
	}
}

func TestBodyForwardCompatible(t *testing.T) {
	b, _ := AppendFrame(nil, Header{Type: MsgTest1}, &sampleGetV2{Partition: 1, Bucket: "b", Key: []byte("k"), R: 3, Timeout: 9})
	f, _, _ := DecodeFrame(b)
	var old sampleGet
	if err := DecodeBody(f.Body, &old); err != nil {
		t.Fatalf("an older receiver must skip unknown fields: %v", err)
	}
	if old.R != 3 || old.Bucket != "b" {
		t.Fatalf("got %+v", old)
	}
}

func TestAppendFrameErrors(t *testing.T) {
	dst := []byte("keep")
	if out, err := AppendFrame(dst, Header{Type: MsgTest1}, make(chan int)); !errors.Is(err, ErrEncode) || string(out) != "keep" {
		t.Fatalf("unencodable body: %q %v", out, err)
	}
	if _, err := AppendFrame(nil, Header{}, nil); !errors.Is(err, ErrEncode) {
		t.Fatalf("type 0: %v", err)
	}
	if _, err := AppendFrame(nil, Header{Type: MsgTest1, Flags: FlagError}, nil); !errors.Is(err, ErrEncode) {
		t.Fatalf("bad flags: %v", err)
	}
	big := make([]byte, MaxBodySize+1)
	if out, err := AppendFrame(dst, Header{Type: MsgTest1}, big[:MaxBodySize]); !errors.Is(err, ErrFrameTooLarge) || string(out) != "keep" {
		t.Fatalf("oversized body: %v", err)
	}
	if _, err := AppendRawFrame(nil, Header{Type: MsgTest1}, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized raw body: %v", err)
	}
}

func TestRawFrame(t *testing.T) {
	b, _ := AppendFrame(nil, Header{Type: MsgTest1}, &sampleGet{R: 5})
	f, _, _ := DecodeFrame(b)
	fwd, err := AppendRawFrame(nil, Header{Type: MsgTest2, Flags: FlagOneWay, ReqID: 4}, f.Body)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := DecodeFrame(fwd)
	var s sampleGet
	if err != nil || g.Type != MsgTest2 || DecodeBody(g.Body, &s) != nil || s.R != 5 {
		t.Fatalf("forwarded frame: %+v %v %+v", g.Header, err, s)
	}
}

func header(length uint32, typ MsgType, flags Flags) []byte {
	b := make([]byte, HeaderSize)
	binary.BigEndian.PutUint32(b, length)
	b[4], b[5] = byte(typ), byte(flags)
	return b
}

func TestDecodeFrameRejects(t *testing.T) {
	good, _ := AppendFrame(nil, Header{Type: MsgTest1, ReqID: 1}, &sampleGet{})
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"empty":          {nil, ErrMalformed},
		"short header":   {good[:HeaderSize-1], ErrMalformed},
		"truncated body": {good[:len(good)-1], ErrMalformed},
		"length < hdr":   {header(3, MsgTest1, 0), ErrMalformed},
		"type 0":         {header(HeaderSize-4, MsgInvalid, 0), ErrMalformed},
		"error w/o resp": {header(HeaderSize-4, MsgTest1, FlagError), ErrMalformed},
		"unknown flag":   {header(HeaderSize-4, MsgTest1, 1<<5), ErrMalformed},
		"oneway resp":    {header(HeaderSize-4, MsgTest1, FlagOneWay|FlagResponse), ErrMalformed},
		"too large":      {header(MaxFrameSize, MsgTest1, 0), ErrFrameTooLarge},
		"max uint32":     {header(1<<32-1, MsgTest1, 0), ErrFrameTooLarge},
	}
	for name, c := range cases {
		if _, _, err := DecodeFrame(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// An unknown (newer) message type is not a codec error: the transport
	// answers it with "no handler".
	if f, _, err := DecodeFrame(append(header(HeaderSize-4+1, 200, 0), 0xc0)); err != nil || f.Type.Known() {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestReadFrameLimits(t *testing.T) {
	good, _ := AppendFrame(nil, Header{Type: MsgTest1, ReqID: 1}, &sampleGet{Bucket: strings.Repeat("b", 100)})
	if _, err := ReadFrame(bytes.NewReader(good), 50); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("above caller's bound: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(good[:10]), 0); err != io.ErrUnexpectedEOF {
		t.Fatalf("cut header: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(good[:len(good)-1]), 0); err != io.ErrUnexpectedEOF {
		t.Fatalf("cut body: %v", err)
	}
	// A peer announcing 60 MiB and sending 10 bytes gets an error, and the
	// reader allocated one chunk, not 60 MiB.
	lying := append(header(60<<20, MsgTest1, 0), make([]byte, 10)...)
	if n := allocated(func() { _, _ = ReadFrame(bytes.NewReader(lying), 0) }); n > 4<<20 {
		t.Fatalf("%d bytes allocated for a lying header", n)
	}
	// A large frame arriving in small pieces is read whole.
	body := make([]byte, 3<<20+17)
	for i := range body {
		body[i] = byte(i)
	}
	big, err := AppendFrame(nil, Header{Type: MsgTest1}, body)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFrame(io.MultiReader(bytes.NewReader(big[:100]), bytes.NewReader(big[100:])), 0)
	var got []byte
	if err != nil || DecodeBody(f.Body, &got) != nil || !bytes.Equal(got, body) {
		t.Fatalf("large frame: %v", err)
	}
}

// allocated returns the bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecodeBodyHostile(t *testing.T) {
	cases := map[string][]byte{
		"empty":           {},
		"trailing":        {0xc0, 0xc0},
		"reserved c1":     {0xc1},
		"array32 huge":    {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},
		"map32 huge":      {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0},
		"bin32 huge":      {0xc6, 0xff, 0xff, 0xff, 0xf0, 1, 2},
		"str8 short":      {0xd9, 10, 'a'},
		"ext32 huge":      {0xc9, 0xff, 0xff, 0xff, 0xff, 1},
		"truncated int":   {0xcf, 1, 2},
		"nested too deep": bytes.Repeat([]byte{0x91}, maxDepth+1),
	}
	for name, b := range cases {
		var v sampleBatch
		if err := DecodeBody(b, &v); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// A body announcing a million items in a slice of structs and carrying
	// none is refused before the decoder preallocates the slice.
	hostile := []byte{0x81, 0xa5, 'i', 't', 'e', 'm', 's', 0xdd, 0x00, 0x0f, 0x42, 0x40}
	if n := allocated(func() { _ = DecodeBody(hostile, new(sampleBatch)) }); n > 1<<20 {
		t.Fatalf("%d bytes allocated for a lying body", n)
	}
	// Deep but legal nesting decodes.
	ok := append(bytes.Repeat([]byte{0x91}, maxDepth), 0xc0)
	var anyv any
	if err := DecodeBody(ok, &anyv); err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
	// Type mismatches are ErrMalformed too.
	b, _ := AppendFrame(nil, Header{Type: MsgTest1}, "a string")
	f, _, _ := DecodeFrame(b)
	if err := DecodeBody(f.Body, new(sampleGet)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("type mismatch: %v", err)
	}
}

func TestCheckHello(t *testing.T) {
	local := NewHello("a@h", "riak")
	cases := []struct {
		name   string
		remote Hello
		want   uint16
		err    error
	}{
		{"same", NewHello("b@h", "riak"), ProtocolVersion, nil},
		{"newer overlapping", Hello{Version: ProtocolVersion + 5, MinVersion: MinProtocolVersion, Node: "b", Cluster: "riak"}, ProtocolVersion, nil},
		{"newer only", Hello{Version: ProtocolVersion + 5, MinVersion: ProtocolVersion + 1, Node: "b", Cluster: "riak"}, 0, ErrVersion},
		{"older only", Hello{Version: 0xffff, MinVersion: 0xffff, Node: "b", Cluster: "riak"}, 0, ErrVersion},
		{"other cluster", NewHello("b@h", "other"), 0, ErrWrongCluster},
		{"no name", Hello{Version: 1, MinVersion: 1, Cluster: "riak"}, 0, ErrMalformed},
		{"min above max", Hello{Version: 1, MinVersion: 2, Node: "b", Cluster: "riak"}, 0, ErrMalformed},
		{"zero", Hello{Node: "b", Cluster: "riak"}, 0, ErrMalformed},
	}
	for _, c := range cases {
		v, err := CheckHello(local, c.remote)
		if v != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: version %d err %v, want %d %v", c.name, v, err, c.want, c.err)
		}
	}
	// An older local node refuses a newer-only peer and says why.
	old := Hello{Version: 1, MinVersion: 1, Node: "old", Cluster: "riak"}
	_, err := CheckHello(old, Hello{Version: 3, MinVersion: 2, Node: "new", Cluster: "riak"})
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "new speaks versions 2..3, this node 1..1") {
		t.Fatalf("refusal: %v", err)
	}
}

func TestMsgTypeNames(t *testing.T) {
	if MsgHello.String() != "hello" || MsgType(200).String() != "msg(200)" || MsgType(200).Known() {
		t.Fatal("names")
	}
	seen := map[string]MsgType{}
	for _, m := range MsgTypes() {
		if m == MsgInvalid || m == 255 {
			t.Errorf("type %d must never be assigned", m)
		}
		if prev, dup := seen[m.String()]; dup {
			t.Errorf("name %q used by %d and %d", m, prev, m)
		}
		seen[m.String()] = m
	}
}

// TestMsgTypesAppendOnly holds the registry to testdata/msgtypes.golden:
// a number once assigned keeps its name forever, and every registered type
// is in the golden file.
func TestMsgTypesAppendOnly(t *testing.T) {
	data, err := os.ReadFile("testdata/msgtypes.golden")
	if err != nil {
		t.Fatal(err)
	}
	golden := map[MsgType]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		num, name, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 || n > 254 {
			t.Fatalf("bad golden line %q", line)
		}
		golden[MsgType(n)] = name
	}
	for m, name := range golden {
		if m.String() != name {
			t.Errorf("type %d was %q and is now %q: message numbers are append-only; never renumber or reuse", m, name, m)
		}
	}
	for _, m := range MsgTypes() {
		if _, ok := golden[m]; !ok {
			t.Errorf("type %d (%s) is not in testdata/msgtypes.golden: append the line %q", m, m, fmt.Sprintf("%d %s", m, m))
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, body := range []any{
		&sampleGet{Partition: 1, Bucket: "b", Key: []byte("k"), R: 2},
		&sampleBatch{Items: []sampleItem{{Key: []byte("a"), Value: []byte("b")}}, Meta: map[string]any{"x": []any{1, "y", nil}}},
		&ErrorBody{Code: 1, Message: "m"},
		ptr(NewHello("n", "c")),
		nil,
	} {
		b, err := AppendFrame(nil, Header{Type: MsgTest1, ReqID: 3, TimeoutMillis: 100}, body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(append(header(HeaderSize-4+6, MsgTest1, 0), 0x81, 0xa1, 'p', 0xdd, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if n > len(b) || n != HeaderSize+len(fr.Body) {
			t.Fatalf("frame of %d bytes from %d", n, len(b))
		}
		// Re-encoding the accepted frame gives the same bytes.
		again, err := AppendRawFrame(nil, fr.Header, fr.Body)
		if err != nil || !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encode: %v", err)
		}
		// Stream and slice decoding agree.
		sf, err := ReadFrame(bytes.NewReader(b), 0)
		if err != nil || sf.Header != fr.Header || !bytes.Equal(sf.Body, fr.Body) {
			t.Fatalf("ReadFrame disagrees: %v", err)
		}
		// Bodies decode into every sample shape or fail cleanly.
		_ = DecodeBody(fr.Body, new(sampleGet))
		_ = DecodeBody(fr.Body, new(sampleBatch))
		_ = DecodeBody(fr.Body, new(Hello))
		var anyv any
		if DecodeBody(fr.Body, &anyv) == nil {
			// An accepted generic value re-encodes and decodes again.
			b2, err := AppendFrame(nil, Header{Type: MsgTest1}, anyv)
			if err != nil {
				return // e.g. unencodable ext types
			}
			f2, _, err := DecodeFrame(b2)
			var v2 any
			if err != nil || DecodeBody(f2.Body, &v2) != nil {
				t.Fatalf("re-encoded value does not decode: %v", err)
			}
		}
	})
}

func BenchmarkAppendFrame1K(b *testing.B) {
	body := &sampleItem{Key: []byte("key"), Value: make([]byte, 1024)}
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf, _ = AppendFrame(buf[:0], Header{Type: MsgTest1, ReqID: uint64(i)}, body)
	}
}

func BenchmarkDecodeBody1K(b *testing.B) {
	buf, _ := AppendFrame(nil, Header{Type: MsgTest1}, &sampleItem{Key: []byte("key"), Value: make([]byte, 1024)})
	f, _, _ := DecodeFrame(buf)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var it sampleItem
		if err := DecodeBody(f.Body, &it); err != nil {
			b.Fatal(err)
		}
	}
}
