// Package secret holds a cluster's shared secrets: the proof of membership
// that the internode handshake (internal/transport/tcp) and gossip
// (internal/membership/memberlist's keyring) ask of every peer.
//
// A secret file holds one secret per line, the primary first; the others
// are still accepted from peers, which is how a secret is rotated without
// downtime (docs/security.md). Each use derives its own key from every
// secret (HKDF-SHA256 with a purpose label), so the gossip encryption key,
// the handshake's HMAC key and a secret's public identifier never
// coincide. The node wiring (internal/node) loads the file at start and
// again on SIGHUP.
package secret
