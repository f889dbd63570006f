// Package riakpb holds riakgo's schema of Riak's Protocol Buffers API
// (riak.proto, riak_kv.proto, riak_dt.proto: riak_pb's message names and
// field numbers, written for riakgo), the Go code protoc-gen-go generates
// from it (*.pb.go; `make proto` or gen.sh regenerates it), and the
// message codes that precede each body on the wire (codes.go).
//
// It is a codec package: internal/pb (the server) and internal/bench (the
// PB load generator) use it; with internal/pb it is the only user of
// google.golang.org/protobuf.
package riakpb
