package riakpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code from the .proto files
// (gen.sh: protoc and protoc-gen-go) and compares it with the committed
// code. .ci/run installs protoc; elsewhere the test is skipped without it.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is missing; .ci/run installs protobuf-compiler")
		}
		t.Skip("protoc is not installed (apt-get install protobuf-compiler); CI runs this test")
	}
	out := t.TempDir()
	cmd := exec.Command("./gen.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, b)
	}
	for _, f := range []string{"riak.pb.go", "riak_kv.pb.go", "riak_dt.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the .proto files generate: run make proto", f)
		}
	}
}

// TestCodesMatchRiakPB compares the message codes with riak_pb's
// riak_pb_messages.csv as shipped in basho-riak-client (installed for the
// client suite; .ci/run installs it).
func TestCodesMatchRiakPB(t *testing.T) {
	csv := "../../../clients/riak-nodejs/node_modules/basho-riak-client/lib/protobuf/riak_pb/src/riak_pb_messages.csv"
	b, err := os.ReadFile(csv)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: .ci/run installs clients/riak-nodejs", err)
		}
		t.Skipf("%v (npm ci in clients/riak-nodejs)", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		code, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 2 {
			t.Fatalf("bad csv line %q", line)
		}
		if got := Code(code).String(); got != f[1] {
			t.Errorf("code %d: %s here, %s in riak_pb", code, got, f[1])
		}
		n++
	}
	if n != len(names) {
		t.Errorf("riak_pb has %d codes, riakgo %d", n, len(names))
	}
}

// TestQuorumSymbols holds riak_pb's symbolic quorum values.
func TestQuorumSymbols(t *testing.T) {
	for v, want := range map[uint32]uint32{QuorumOne: 4294967294, QuorumQuorum: 4294967293, QuorumAll: 4294967292, QuorumDefault: 4294967291} {
		if v != want {
			t.Errorf("%d, want %d", v, want)
		}
	}
}
