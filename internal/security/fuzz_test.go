package security

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/kv/storage/memstore"
)

// FuzzCommand: any arguments to the security verbs get an answer or a
// riak-admin error, never a panic, and authentication afterwards works.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"add-user alice password=x groups=g", "add-source all 127.0.0.1/32 trust",
		"grant riak_kv.get on default b to alice", "revoke riak_kv.get on any from all",
		"print-grants alice", "del-source all ::1/128", "add-group g groups=g", "print-sources",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		md, err := metadata.New(metadata.Config{Self: "n", Engine: memstore.New()})
		if err != nil {
			t.Fatal(err)
		}
		s := New(md, Options{kdf: &cheap})
		ctx := context.Background()
		for _, cmd := range strings.Split(line, ";") {
			s.Command(ctx, strings.Fields(cmd))
		}
		s.PrintUsers("")
		s.PrintGroups("")
		s.PrintSources()
		if c, err := s.Authenticate(ctx, "alice", "x", netip.MustParseAddr("127.0.0.1"), "alice"); err == nil {
			c.Check("riak_kv.get", "default", "b")
			c.Admin()
		}
	})
}

// FuzzCheckPassword: a stored hash (which a tampered metadata entry could
// hold) never panics the check, and never costs more than the bounds.
func FuzzCheckPassword(f *testing.F) {
	f.Add(hashPassword("pw", cheap), "pw")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Fuzz(func(t *testing.T, phc, pw string) {
		checkPassword(phc, pw)
	})
}

// FuzzSnapshot: security records as another member may have written them
// never break the parsing of the metadata.
func FuzzSnapshot(f *testing.F) {
	f.Add("security_users", "alice", `{"password":"x","groups":["g"]}`)
	f.Add("security_sources", "alice 10.0.0.0/8", `{"source":"password"}`)
	f.Add("security_usergrants", `["alice","bucket","t","b"]`, `["riak_kv.get"]`)
	f.Fuzz(func(t *testing.T, prefix, key, value string) {
		if !isSecurityPrefix(prefix) || strings.IndexByte(prefix, 0) >= 0 {
			return
		}
		md, err := metadata.New(metadata.Config{Self: "n", Engine: memstore.New()})
		if err != nil {
			t.Fatal(err)
		}
		md.Put(context.Background(), prefix, key, []byte(value))
		s := New(md, Options{kdf: &cheap})
		s.Enabled()
		s.PrintSources()
		s.PrintUsers("")
		s.PrintGrants(key)
		if c, err := s.Authenticate(context.Background(), key, "x", netip.MustParseAddr("10.1.1.1"), key); err == nil {
			c.Check("riak_kv.get", "t", "b")
		}
	})
}
