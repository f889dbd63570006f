// Package wire is riakgo's serialisation: the only package that imports
// msgpack. It encodes the stored object (a leading format-version byte, then
// a msgpack array) and, with clustering, the internode message frames and
// their append-only message-type registry.
//
// Decoders treat their input as hostile: they bound every length, never
// panic, and return ErrMalformed for anything they did not produce (fuzzed).
// The internode frame codec (frame.go), the message-type registry (msg.go)
// and the version handshake (hello.go) serve internal/transport; message
// bodies are the owners' structs with msgpack tags, decoded by DecodeBody.
// Callers: kv (storage values, message types), internal/transport
// (frames), and the owners of message types (kv, handoff,
// internal/metadata, internal/node).
package wire
