package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	a, b := Generate(), Generate()
	s, err := Parse([]byte("# rotation\n" + a + "\n\n  " + b + "  \n"))
	if err != nil || s.Len() != 2 {
		t.Fatalf("Parse: %v, %d secrets", err, s.Len())
	}
	if _, err := Parse([]byte("# nothing\n\n")); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := Parse([]byte("short\n")); !errors.Is(err, ErrShort) {
		t.Fatalf("short secret: %v", err)
	}
	many := ""
	for range MaxSecrets + 1 {
		many += Generate() + "\n"
	}
	if _, err := Parse([]byte(many)); !errors.Is(err, ErrTooMany) {
		t.Fatalf("too many: %v", err)
	}
}

func TestLoadRefusesReadableFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte(Generate()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); !errors.Is(err, ErrReadable) {
		t.Fatalf("mode 644: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(p); err != nil || s.Len() != 1 {
		t.Fatalf("mode 600: %v", err)
	}
}

func TestKeysArePerPurposeAndSecret(t *testing.T) {
	s, _ := New(Generate(), Generate())
	g, i := s.Keys(PurposeGossip, 32), s.Keys(PurposeInternode, 32)
	if len(g) != 2 || bytes.Equal(g[0], g[1]) || bytes.Equal(g[0], i[0]) {
		t.Fatal("derived keys collide")
	}
	// Deterministic: another node with the same file derives the same.
	s2, _ := New(string(s.secrets[0]), string(s.secrets[1]))
	if !bytes.Equal(s2.Keys(PurposeGossip, 32)[1], g[1]) || !s.Equal(s2) {
		t.Fatal("derivation is not deterministic")
	}
}

func TestKeyringPickAndMAC(t *testing.T) {
	old, next := Generate(), Generate()
	a, _ := New(next, old) // rotated: new primary, old still accepted
	b, _ := New(old)
	ka, kb := a.Keyring(), b.Keyring()
	id, ok := ka.Pick(kb.IDs())
	if !ok || !bytes.Equal(id, kb.IDs()[0]) {
		t.Fatal("no common key found")
	}
	mac := kb.MAC(id, []byte("x"), []byte("y"))
	if !ka.Verify(id, mac, []byte("x"), []byte("y")) {
		t.Fatal("MAC of the shared key does not verify")
	}
	if ka.Verify(id, mac, []byte("xy")) || ka.Verify(id, mac, []byte("x"), []byte("y"), nil) {
		t.Fatal("length prefixes do not separate parts")
	}
	c, _ := New(Generate())
	if _, ok := c.Keyring().Pick(ka.IDs()); ok {
		t.Fatal("unrelated secrets share a key")
	}
	var none *Keyring
	if none.MAC(id, nil) != nil || none.Verify(id, mac) {
		t.Fatal("nil keyring authenticates")
	}
}
