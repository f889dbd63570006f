package secret

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// MinLength is the shortest secret accepted, in bytes: 32 hex digits
// (128 bits), what Generate's half would hold.
const MinLength = 32

// MaxSecrets bounds the secrets of one file (a rotation needs two).
const MaxSecrets = 8

// Purposes of the derived keys.
const (
	// PurposeInternode keys the internode handshake's HMAC proofs.
	PurposeInternode = "riakgo internode handshake v1"
	// PurposeGossip is memberlist's AES-256-GCM keyring.
	PurposeGossip = "riakgo gossip keyring v1"
	purposeID     = "riakgo secret id v1"
)

// Errors.
var (
	ErrEmpty    = errors.New("riakgo/secret: no secret")
	ErrShort    = errors.New("riakgo/secret: secret too short")
	ErrTooMany  = errors.New("riakgo/secret: too many secrets")
	ErrReadable = errors.New("riakgo/secret: secret file is readable by other users")
)

// Set is a cluster's secrets, the primary first. The zero Set holds none
// (a cluster without a secret: peers are not authenticated). A Set is
// immutable.
type Set struct {
	secrets [][]byte
}

// Parse reads secrets from a file's contents: one per line, blank lines
// and lines starting with # ignored, surrounding spaces trimmed.
func Parse(data []byte) (Set, error) {
	var out [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if len(s) < MinLength {
			return Set{}, fmt.Errorf("%w: line %d has %d characters, at least %d are needed (riakgo secret makes one)", ErrShort, i+1, len(s), MinLength)
		}
		out = append(out, []byte(s))
	}
	if len(out) == 0 {
		return Set{}, ErrEmpty
	}
	if len(out) > MaxSecrets {
		return Set{}, fmt.Errorf("%w: %d, at most %d", ErrTooMany, len(out), MaxSecrets)
	}
	return Set{secrets: out}, nil
}

// Load reads a secret file. The file must not be readable by group or
// others (as ssh insists for private keys): a secret everyone on the
// machine can read proves nothing.
func Load(path string) (Set, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Set{}, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Set{}, fmt.Errorf("%w: %s has mode %v; chmod 600 it", ErrReadable, path, st.Mode().Perm()&fs.ModePerm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Set{}, err
	}
	s, err := Parse(b)
	if err != nil {
		return Set{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// New returns a Set of the given secrets (tests and tools); each must be
// at least MinLength bytes.
func New(secrets ...string) (Set, error) {
	return Parse([]byte(strings.Join(secrets, "\n")))
}

// Generate returns a new random secret: 32 random bytes in hex.
func Generate() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// Len returns the number of secrets.
func (s Set) Len() int { return len(s.secrets) }

// Empty reports whether the set holds no secret.
func (s Set) Empty() bool { return len(s.secrets) == 0 }

// Equal reports whether two sets hold the same secrets in the same order.
func (s Set) Equal(o Set) bool {
	if len(s.secrets) != len(o.secrets) {
		return false
	}
	for i := range s.secrets {
		if !bytes.Equal(s.secrets[i], o.secrets[i]) {
			return false
		}
	}
	return true
}

// Keys derives one key of n bytes per secret for purpose, primary first.
func (s Set) Keys(purpose string, n int) [][]byte {
	out := make([][]byte, len(s.secrets))
	for i, sec := range s.secrets {
		k, err := hkdf.Key(sha256.New, sec, nil, purpose, n)
		if err != nil {
			panic(err) // n is small: HKDF-SHA256 only fails above 8160 bytes
		}
		out[i] = k
	}
	return out
}

// IDs returns a public identifier of each secret (8 bytes, primary first):
// peers tell which secrets they hold without revealing them.
func (s Set) IDs() [][]byte { return s.Keys(purposeID, 8) }

// Keyring is the internode handshake's view of a Set: HMAC keys by
// identifier.
type Keyring struct {
	ids  [][]byte
	keys [][]byte
}

// Keyring returns the set's internode keys.
func (s Set) Keyring() *Keyring {
	if s.Empty() {
		return nil
	}
	return &Keyring{ids: s.IDs(), keys: s.Keys(PurposeInternode, 32)}
}

// IDs returns the identifiers of the keys, primary first.
func (k *Keyring) IDs() [][]byte {
	if k == nil {
		return nil
	}
	return k.ids
}

// Pick returns the first of this keyring's keys (in its order) whose
// identifier is among ids, and that identifier.
func (k *Keyring) Pick(ids [][]byte) (id []byte, ok bool) {
	if k == nil {
		return nil, false
	}
	for _, mine := range k.ids {
		for _, theirs := range ids {
			if bytes.Equal(mine, theirs) {
				return mine, true
			}
		}
	}
	return nil, false
}

// Has reports whether the keyring holds the key named id.
func (k *Keyring) Has(id []byte) bool {
	_, ok := k.Pick([][]byte{id})
	return ok
}

// MAC returns the HMAC-SHA256 under the key named id of the parts, each
// length-prefixed so that no two part lists collide. It returns nil if
// the key is unknown.
func (k *Keyring) MAC(id []byte, parts ...[]byte) []byte {
	if k == nil {
		return nil
	}
	for i, mine := range k.ids {
		if bytes.Equal(mine, id) {
			m := hmac.New(sha256.New, k.keys[i])
			for _, p := range parts {
				var n [4]byte
				n[0], n[1], n[2], n[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
				m.Write(n[:])
				m.Write(p)
			}
			return m.Sum(nil)
		}
	}
	return nil
}

// Verify reports whether mac is the MAC of parts under the key named id,
// in constant time.
func (k *Keyring) Verify(id, mac []byte, parts ...[]byte) bool {
	want := k.MAC(id, parts...)
	return want != nil && hmac.Equal(want, mac)
}
