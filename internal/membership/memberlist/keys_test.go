package memberlist

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func key() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func withKeys(keys ...[]byte) func(*Config) {
	return func(c *Config) {
		c.SecretKeys = keys
		c.Label = "test-cluster"
	}
}

// TestGossipKeys: issue 12's second finding. Members sharing a key gossip;
// a node without it, or with another key, neither joins nor learns the
// members or the state they exchange.
func TestGossipKeys(t *testing.T) {
	k := key()
	ms := start(t, nil, withKeys(k), "a", "b")
	state := newRecorder("ring-of-a")
	ms[0].SetStateHandler(state)
	joinAll(t, ms)

	for _, tc := range []struct {
		name  string
		tweak func(*Config)
	}{
		{"no key", func(c *Config) { c.Label = "test-cluster" }},
		{"no key, no label", nil},
		{"another key", withKeys(key())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spy := newRecorder()
			outsider := start(t, nil, tc.tweak, "outsider")[0]
			outsider.SetStateHandler(spy)
			if n, err := outsider.Join([]string{ms[0].Local().GossipAddr}); err == nil || n != 0 {
				t.Fatalf("outsider joined %d members (err %v)", n, err)
			}
			if len(outsider.Members()) != 1 {
				t.Fatalf("outsider learned members: %v", outsider.Members())
			}
			if spy.has("ring-of-a") || len(spy.last) != 0 {
				t.Fatalf("outsider received the members' state: %q", spy.last)
			}
			for _, m := range ms {
				if _, ok := m.Member("outsider"); ok {
					t.Fatalf("%s lists the outsider", m.self)
				}
			}
		})
	}
}

// TestSetKeysRotates rotates the gossip key of a running cluster: add the
// new key everywhere, make it primary everywhere, drop the old one; the
// members keep seeing each other, and a node with only the new key joins.
func TestSetKeysRotates(t *testing.T) {
	old, next := key(), key()
	ms := start(t, nil, withKeys(old), "a", "b", "c")
	joinAll(t, ms)
	for _, step := range [][][]byte{{old, next}, {next, old}, {next}} {
		for _, m := range ms {
			if err := m.SetKeys(step); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range ms {
		if got := m.keyring.GetPrimaryKey(); !bytes.Equal(got, next) || len(m.keyring.GetKeys()) != 1 {
			t.Fatalf("%s: keyring not rotated", m.self)
		}
	}
	late := start(t, nil, withKeys(next), "d")
	joinAll(t, append(ms, late...))
	stale := start(t, nil, withKeys(old), "e")[0]
	if _, err := stale.Join([]string{ms[0].Local().GossipAddr}); err == nil {
		t.Fatal("a node with the retired key joined")
	}
	plain := start(t, nil, nil, "f")[0]
	if err := plain.SetKeys([][]byte{next}); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("SetKeys without a keyring: %v", err)
	}
	if _, err := New(Config{Name: "g", SecretKeys: [][]byte{[]byte("short")}}); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}
