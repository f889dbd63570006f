package riakpb

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Code is a message code: the byte after a frame's length that names the
// body's message (riak_pb's riak_pb_messages.csv).
type Code uint8

// The message codes of Riak 2.x's Protocol Buffers API.
const (
	CodeErrorResp                Code = 0
	CodePingReq                  Code = 1
	CodePingResp                 Code = 2
	CodeGetClientIDReq           Code = 3
	CodeGetClientIDResp          Code = 4
	CodeSetClientIDReq           Code = 5
	CodeSetClientIDResp          Code = 6
	CodeGetServerInfoReq         Code = 7
	CodeGetServerInfoResp        Code = 8
	CodeGetReq                   Code = 9
	CodeGetResp                  Code = 10
	CodePutReq                   Code = 11
	CodePutResp                  Code = 12
	CodeDelReq                   Code = 13
	CodeDelResp                  Code = 14
	CodeListBucketsReq           Code = 15
	CodeListBucketsResp          Code = 16
	CodeListKeysReq              Code = 17
	CodeListKeysResp             Code = 18
	CodeGetBucketReq             Code = 19
	CodeGetBucketResp            Code = 20
	CodeSetBucketReq             Code = 21
	CodeSetBucketResp            Code = 22
	CodeMapRedReq                Code = 23
	CodeMapRedResp               Code = 24
	CodeIndexReq                 Code = 25
	CodeIndexResp                Code = 26
	CodeSearchQueryReq           Code = 27
	CodeSearchQueryResp          Code = 28
	CodeResetBucketReq           Code = 29
	CodeResetBucketResp          Code = 30
	CodeGetBucketTypeReq         Code = 31
	CodeSetBucketTypeReq         Code = 32
	CodeGetBucketKeyPreflistReq  Code = 33
	CodeGetBucketKeyPreflistResp Code = 34
	CodeCSBucketReq              Code = 40
	CodeCSBucketResp             Code = 41
	CodeIndexBodyResp            Code = 42
	CodeCounterUpdateReq         Code = 50
	CodeCounterUpdateResp        Code = 51
	CodeCounterGetReq            Code = 52
	CodeCounterGetResp           Code = 53
	CodeYokozunaIndexGetReq      Code = 54
	CodeYokozunaIndexGetResp     Code = 55
	CodeYokozunaIndexPutReq      Code = 56
	CodeYokozunaIndexDeleteReq   Code = 57
	CodeYokozunaSchemaGetReq     Code = 58
	CodeYokozunaSchemaGetResp    Code = 59
	CodeYokozunaSchemaPutReq     Code = 60
	CodeCoverageReq              Code = 70
	CodeCoverageResp             Code = 71
	CodeDtFetchReq               Code = 80
	CodeDtFetchResp              Code = 81
	CodeDtUpdateReq              Code = 82
	CodeDtUpdateResp             Code = 83
	CodeTsQueryReq               Code = 90
	CodeTsQueryResp              Code = 91
	CodeTsPutReq                 Code = 92
	CodeTsPutResp                Code = 93
	CodeTsDelReq                 Code = 94
	CodeTsDelResp                Code = 95
	CodeTsGetReq                 Code = 96
	CodeTsGetResp                Code = 97
	CodeTsListKeysReq            Code = 98
	CodeTsListKeysResp           Code = 99
	CodeTsCoverageReq            Code = 100
	CodeTsCoverageResp           Code = 101
	CodeTsCoverageEntry          Code = 102
	CodeTsRange                  Code = 103
	CodeTsTtbMsg                 Code = 104
	CodeAuthReq                  Code = 253
	CodeAuthResp                 Code = 254
	CodeStartTLS                 Code = 255
)

// names are the messages' names as in riak_pb_messages.csv.
var names = map[Code]string{
	0: "RpbErrorResp", 1: "RpbPingReq", 2: "RpbPingResp", 3: "RpbGetClientIdReq", 4: "RpbGetClientIdResp",
	5: "RpbSetClientIdReq", 6: "RpbSetClientIdResp", 7: "RpbGetServerInfoReq", 8: "RpbGetServerInfoResp",
	9: "RpbGetReq", 10: "RpbGetResp", 11: "RpbPutReq", 12: "RpbPutResp", 13: "RpbDelReq", 14: "RpbDelResp",
	15: "RpbListBucketsReq", 16: "RpbListBucketsResp", 17: "RpbListKeysReq", 18: "RpbListKeysResp",
	19: "RpbGetBucketReq", 20: "RpbGetBucketResp", 21: "RpbSetBucketReq", 22: "RpbSetBucketResp",
	23: "RpbMapRedReq", 24: "RpbMapRedResp", 25: "RpbIndexReq", 26: "RpbIndexResp",
	27: "RpbSearchQueryReq", 28: "RpbSearchQueryResp", 29: "RpbResetBucketReq", 30: "RpbResetBucketResp",
	31: "RpbGetBucketTypeReq", 32: "RpbSetBucketTypeReq", 33: "RpbGetBucketKeyPreflistReq",
	34: "RpbGetBucketKeyPreflistResp", 40: "RpbCSBucketReq", 41: "RpbCSBucketResp", 42: "RpbIndexBodyResp",
	50: "RpbCounterUpdateReq", 51: "RpbCounterUpdateResp", 52: "RpbCounterGetReq", 53: "RpbCounterGetResp",
	54: "RpbYokozunaIndexGetReq", 55: "RpbYokozunaIndexGetResp", 56: "RpbYokozunaIndexPutReq",
	57: "RpbYokozunaIndexDeleteReq", 58: "RpbYokozunaSchemaGetReq", 59: "RpbYokozunaSchemaGetResp",
	60: "RpbYokozunaSchemaPutReq", 70: "RpbCoverageReq", 71: "RpbCoverageResp",
	80: "DtFetchReq", 81: "DtFetchResp", 82: "DtUpdateReq", 83: "DtUpdateResp",
	90: "TsQueryReq", 91: "TsQueryResp", 92: "TsPutReq", 93: "TsPutResp", 94: "TsDelReq", 95: "TsDelResp",
	96: "TsGetReq", 97: "TsGetResp", 98: "TsListKeysReq", 99: "TsListKeysResp", 100: "TsCoverageReq",
	101: "TsCoverageResp", 102: "TsCoverageEntry", 103: "TsRange", 104: "TsTtbMsg",
	253: "RpbAuthReq", 254: "RpbAuthResp", 255: "RpbStartTls",
}

// String returns the message's name, or "code N" for an unknown code.
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return "code " + itoa(int(c))
}

// Known reports whether c is one of riak_pb's message codes.
func (c Code) Known() bool {
	_, ok := names[c]
	return ok
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [4]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Quorum values as sent in uint32 fields (riak_pb_kv_codec): a count, or
// one of these symbols.
const (
	QuorumOne     uint32 = 0xFFFFFFFF - 1 // 4294967294
	QuorumQuorum  uint32 = 0xFFFFFFFF - 2 // 4294967293
	QuorumAll     uint32 = 0xFFFFFFFF - 3 // 4294967292
	QuorumDefault uint32 = 0xFFFFFFFF - 4 // 4294967291
)

// Marshal appends m's encoding to b.
func Marshal(b []byte, m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(b, m)
}

// Unmarshal decodes b into m, which it resets first. A message that lacks
// a required field is an error.
func Unmarshal(b []byte, m proto.Message) error {
	return proto.Unmarshal(b, m)
}

// UnmarshalPartial decodes b into m as Unmarshal does, but accepts a
// message that lacks required fields; MissingRequired finds them.
func UnmarshalPartial(b []byte, m proto.Message) error {
	return proto.UnmarshalOptions{AllowPartial: true}.Unmarshal(b, m)
}

// MissingRequired returns the full name of the first required field that
// m, or a message inside it, lacks ("riakgo.pb.RpbGetReq.key"), in the order the
// protobuf runtime checks them (field number, depth first); "" if none.
func MissingRequired(m proto.Message) string {
	return missingRequired(m.ProtoReflect())
}

func missingRequired(m protoreflect.Message) string {
	fields := m.Descriptor().Fields()
	fds := make([]protoreflect.FieldDescriptor, fields.Len())
	for i := range fds {
		fds[i] = fields.Get(i)
	}
	slices.SortFunc(fds, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number()) - int(b.Number()) })
	for _, fd := range fds {
		if !m.Has(fd) {
			if fd.Cardinality() == protoreflect.Required {
				return string(fd.FullName())
			}
			continue
		}
		var inner []protoreflect.Message
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				m.Get(fd).Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					inner = append(inner, v.Message())
					return true
				})
			}
		case fd.Message() == nil:
		case fd.IsList():
			l := m.Get(fd).List()
			for i := range l.Len() {
				inner = append(inner, l.Get(i).Message())
			}
		default:
			inner = append(inner, m.Get(fd).Message())
		}
		for _, im := range inner {
			if name := missingRequired(im); name != "" {
				return name
			}
		}
	}
	return ""
}

// Size returns the length of m's encoding.
func Size(m proto.Message) int { return proto.Size(m) }

// Message is any generated message.
type Message = proto.Message
