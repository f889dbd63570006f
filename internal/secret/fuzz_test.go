package secret

import "testing"

// FuzzParse: a secret file's contents never panic the parser; what it
// accepts yields keys and identifiers.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Generate() + "\n" + Generate() + "\n"))
	f.Add([]byte("# comment\n\n"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		if s.Len() == 0 || len(s.IDs()) != s.Len() || s.Keyring() == nil {
			t.Fatalf("accepted %q but holds no usable secret", b)
		}
	})
}
