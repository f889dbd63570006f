package riakpb

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestMissingRequired: MissingRequired names the field the protobuf
// runtime's own check (proto.CheckInitialized) reports, for every message
// of riak_pb, filled one required field at a time, and for required
// fields inside nested and repeated messages.
func TestMissingRequired(t *testing.T) {
	check := func(what string, m proto.Message) string {
		t.Helper()
		name := MissingRequired(m)
		err := proto.CheckInitialized(m)
		switch {
		case err == nil && name != "":
			t.Errorf("%s: MissingRequired %q, the runtime finds none", what, name)
		case err != nil && name == "":
			t.Errorf("%s: MissingRequired finds none, the runtime: %v", what, err)
		case err != nil && !strings.HasSuffix(err.Error(), "required field "+name+" not set"):
			t.Errorf("%s: MissingRequired %q, the runtime: %v", what, name, err)
		}
		return name
	}
	n := 0
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if !strings.HasPrefix(string(mt.Descriptor().FullName()), "riakgo.pb.") {
			return true
		}
		n++
		m := mt.New()
		for range 100 {
			name := check(string(mt.Descriptor().FullName()), m.Interface())
			if name == "" || !fill(m, protoreflect.FullName(name)) {
				break
			}
		}
		return true
	})
	if n < 50 {
		t.Fatalf("only %d riak_pb messages registered", n)
	}
	nested := []struct {
		m    proto.Message
		want string
	}{
		{&RpbPutReq{Bucket: []byte("b"), Content: &RpbContent{}}, "riakgo.pb.RpbContent.value"},
		{&RpbPutReq{Bucket: []byte("b"), Content: &RpbContent{Value: []byte("v"), Usermeta: []*RpbPair{{Key: []byte("a")}, {}}}},
			"riakgo.pb.RpbPair.key"},
		{&RpbGetResp{Content: []*RpbContent{{Value: []byte("v")}, {}}}, "riakgo.pb.RpbContent.value"},
		{&RpbGetReq{Key: []byte("k")}, "riakgo.pb.RpbGetReq.bucket"},
		{&RpbGetReq{Bucket: []byte("b"), Key: []byte("k")}, ""},
	}
	for _, c := range nested {
		if got := check("nested", c.m); got != c.want {
			t.Errorf("MissingRequired(%v) = %q, want %q", c.m, got, c.want)
		}
	}
}

// fill sets the missing required field name somewhere in m (depth first)
// to a zero value; it reports whether it found it.
func fill(m protoreflect.Message, name protoreflect.FullName) bool {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.FullName() == name && !m.Has(fd) {
			if fd.Message() != nil {
				m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
			} else {
				m.Set(fd, fd.Default())
			}
			if fd.Kind() == protoreflect.BytesKind {
				m.Set(fd, protoreflect.ValueOfBytes([]byte{}))
			}
			return true
		}
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() && m.Has(fd) && fill(m.Get(fd).Message(), name) {
			return true
		}
	}
	return false
}
