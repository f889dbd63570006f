package security

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's recommendation for Argon2id: 19 MiB,
// 2 passes, 1 lane). They are stored with each hash, so raising them later
// leaves old hashes readable.
type kdfParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

var defaultKDF = kdfParams{Memory: 19 * 1024, Time: 2, Threads: 1}

// Bounds on stored parameters: a tampered record must not make a check
// allocate gigabytes or run for minutes.
const (
	maxKDFMemory = 256 * 1024
	maxKDFTime   = 16
)

var errBadHash = errors.New("riakgo/security: malformed password hash")

// hashPassword returns the PHC string of password:
// $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH (unpadded base64).
func hashPassword(password string, p kdfParams) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(h))
}

// checkPassword reports whether password matches the PHC string phc.
func checkPassword(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var p kdfParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory < 8 || p.Memory > maxKDFMemory || p.Time < 1 || p.Time > maxKDFTime || p.Threads < 1 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
