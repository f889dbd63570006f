package security

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/kv/storage/memstore"
)

// cheap is a hashing cost for tests (the product's is 19 MiB, 2 passes).
var cheap = kdfParams{Memory: 64, Time: 1, Threads: 1}

func newService(t *testing.T) (*Service, *metadata.Store) {
	t.Helper()
	md, err := metadata.New(metadata.Config{Self: "n1", Engine: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	return New(md, Options{kdf: &cheap}), md
}

func run(t *testing.T, s *Service, args ...string) string {
	t.Helper()
	out, err := s.Command(context.Background(), args)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out
}

func refused(t *testing.T, s *Service, want string, args ...string) {
	t.Helper()
	_, err := s.Command(context.Background(), args)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Msg != want {
		t.Fatalf("%v: %v, want %q", args, err, want)
	}
}

var (
	local = netip.MustParseAddr("127.0.0.1")
	lan   = netip.MustParseAddr("10.1.2.3")
	ctx   = context.Background()
)

func TestAuthenticateBySource(t *testing.T) {
	s, _ := newService(t)
	run(t, s, "add-user", "Alice", "password=secret1")
	run(t, s, "add-user", "bob")
	run(t, s, "add-user", "riakuser")
	run(t, s, "add-source", "alice", "10.0.0.0/8", "password")
	run(t, s, "add-source", "all", "127.0.0.1/32", "trust")
	run(t, s, "add-source", "riakuser", "0.0.0.0/0", "certificate")

	cases := []struct {
		user, pass string
		peer       netip.Addr
		cn         string
		err        error
	}{
		{"alice", "secret1", lan, "", nil},
		{"ALICE", "secret1", lan, "", nil}, // names are case-insensitive
		{"alice", "wrong", lan, "", ErrBadPassword},
		{"alice", "", local, "", nil}, // trust for all on loopback
		{"bob", "", local, "", nil},
		{"bob", "x", lan, "", ErrNoSource},
		{"carol", "x", local, "", ErrUnknownUser},
		{"riakuser", "", lan, "riakuser", nil},
		{"riakuser", "", lan, "", ErrNoCertificate},
		{"riakuser", "", lan, "alice", ErrCommonName},
		{"alice", "secret1", netip.MustParseAddr("::ffff:10.9.9.9"), "", nil}, // v4-mapped peers match v4 sources
	}
	for _, c := range cases {
		ctxU, err := s.Authenticate(ctx, c.user, c.pass, c.peer, c.cn)
		if !errors.Is(err, c.err) {
			t.Errorf("%s/%q from %s (cn %q): %v, want %v", c.user, c.pass, c.peer, c.cn, err, c.err)
		}
		if err == nil && ctxU.Name() != strings.ToLower(c.user) {
			t.Errorf("context for %s names %s", c.user, ctxU.Name())
		}
	}
	// A more specific source for a user wins over a broader one for all.
	run(t, s, "add-source", "bob", "127.0.0.1/32", "password")
	if _, err := s.Authenticate(ctx, "bob", "", local, ""); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("bob's own source did not take precedence: %v", err)
	}
	run(t, s, "del-source", "bob", "127.0.0.1/32")
	if _, err := s.Authenticate(ctx, "bob", "", local, ""); err != nil {
		t.Fatalf("after del-source: %v", err)
	}
}

func TestPasswordCacheForgetsChangedUser(t *testing.T) {
	s, _ := newService(t)
	run(t, s, "add-user", "alice", "password=one")
	run(t, s, "add-source", "all", "0.0.0.0/0", "password")
	for range 2 {
		if _, err := s.Authenticate(ctx, "alice", "one", lan, ""); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s, "alter-user", "alice", "password=two")
	if _, err := s.Authenticate(ctx, "alice", "one", lan, ""); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("old password after alter-user: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice", "two", lan, ""); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordChecksAreBounded(t *testing.T) {
	s, _ := newService(t)
	run(t, s, "add-user", "alice", "password=one")
	run(t, s, "add-source", "all", "0.0.0.0/0", "password")
	for range cap(s.checks) {
		s.checks <- struct{}{} // every slot busy
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.Authenticate(c, "alice", "one", lan, ""); !errors.Is(err, ErrAuthBusy) {
		t.Fatalf("with every check slot busy: %v", err)
	}
}

func TestHashIsArgon2id(t *testing.T) {
	h := hashPassword("pw", defaultKDF)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := checkPassword(h, "pw"); !ok || err != nil {
		t.Fatalf("check: %v %v", ok, err)
	}
	if ok, _ := checkPassword(h, "pW"); ok {
		t.Fatal("wrong password accepted")
	}
	// Tampered costs are refused, not run.
	for _, bad := range []string{
		strings.Replace(h, "m=19456", "m=99999999", 1),
		strings.Replace(h, "t=2", "t=1000", 1),
		"$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "", "plain",
	} {
		if _, err := checkPassword(bad, "pw"); err == nil {
			t.Errorf("accepted hash %q", bad)
		}
	}
}

func TestGrants(t *testing.T) {
	s, _ := newService(t)
	run(t, s, "add-group", "readers")
	run(t, s, "add-group", "admins", "groups=readers")
	run(t, s, "add-user", "alice", "groups=admins")
	run(t, s, "add-user", "bob")
	run(t, s, "add-source", "all", "0.0.0.0/0", "trust")
	run(t, s, "grant", "riak_kv.get", "on", "default", "b1", "to", "readers")
	run(t, s, "grant", "riak_kv.put,riak_kv.delete", "on", "maps", "to", "alice")
	run(t, s, "grant", "riak_kv.list_buckets", "on", "any", "to", "all")
	alice, err := s.Authenticate(ctx, "alice", "", lan, "")
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := s.Authenticate(ctx, "bob", "", lan, "")
	for _, c := range []struct {
		who        *Context
		perm, t, b string
		ok         bool
	}{
		{alice, "riak_kv.get", "default", "b1", true}, // via admins -> readers
		{alice, "riak_kv.get", "default", "b2", false},
		{alice, "riak_kv.put", "maps", "anything", true}, // type-wide grant
		{alice, "riak_kv.put", "maps", "", true},
		{alice, "riak_kv.put", "sets", "x", false},
		{alice, "riak_kv.list_buckets", "default", "", true}, // all, on any
		{bob, "riak_kv.list_buckets", "sets", "", true},
		{bob, "riak_kv.get", "default", "b1", false},
	} {
		err := c.who.Check(c.perm, c.t, c.b)
		if (err == nil) != c.ok {
			t.Errorf("%s %s on %s/%s: %v, want allowed=%v", c.who.Name(), c.perm, c.t, c.b, err, c.ok)
		}
	}
	err = bob.Check("riak_kv.get", "default", "b1")
	if err == nil || err.Error() != "Permission denied: User 'bob' does not have 'riak_kv.get' on default/b1" {
		t.Fatalf("denial text: %v", err)
	}
	// Revocation applies to contexts already handed out.
	run(t, s, "revoke", "riak_kv.get", "on", "default", "b1", "from", "readers")
	if alice.Check("riak_kv.get", "default", "b1") == nil {
		t.Fatal("revoked grant still applies")
	}
	// Removing a group takes its members out and its grants away.
	run(t, s, "grant", "riak_kv.get", "on", "default", "b1", "to", "readers")
	run(t, s, "del-group", "readers")
	run(t, s, "add-group", "readers")
	if alice.Check("riak_kv.get", "default", "b1") == nil {
		t.Fatal("a re-created group inherited the old group's grants")
	}
	if alice.Admin() {
		t.Fatal("alice is admin without riakgo.admin")
	}
	run(t, s, "grant", "riakgo.admin", "on", "any", "to", "alice")
	if !alice.Admin() {
		t.Fatal("riakgo.admin on any does not make an admin")
	}
}

func TestCommandErrors(t *testing.T) {
	s, _ := newService(t)
	run(t, s, "add-user", "alice")
	run(t, s, "add-group", "alice")
	refused(t, s, "This name is already in use", "add-user", "alice")
	refused(t, s, "This name is reserved for system use", "add-user", "all")
	refused(t, s, "This name is reserved for system use", "add-group", "any")
	refused(t, s, "Illegal character(s) in name", "add-user", "a b")
	refused(t, s, "Illegal character(s) in name", "add-user", "a,b")
	refused(t, s, `Invalid option "nokey", options are of the form key=value`, "add-user", "carol", "nokey")
	refused(t, s, "Group(s) not recognized: nope", "add-user", "carol", "groups=nope")
	refused(t, s, "User not recognized: carol", "alter-user", "carol", "a=b")
	refused(t, s, "User not recognized: carol", "del-user", "carol")
	refused(t, s, "User(s) not recognized: carol, dave", "add-source", "carol,dave", "127.0.0.1/32", "trust")
	refused(t, s, "Permission not recognized: riak_kv.fly", "grant", "riak_kv.fly", "on", "any", "to", "user/alice")
	refused(t, s, "Name(s) not recognized: zed", "grant", "riak_kv.get", "on", "any", "to", "zed")
	refused(t, s, "Ambiguous names need to be prefixed with 'user/' or 'group/': alice", "grant", "riak_kv.get", "on", "any", "to", "alice")
	refused(t, s, "riakgo.admin can only be granted on any", "grant", "riakgo.admin", "on", "default", "to", "user/alice")
	refused(t, s, "Usage: grant <permissions> on (<type> [bucket]|any) to <users>", "grant", "riak_kv.get", "to", "all")
	refused(t, s, "Name not recognized: zed", "print-grants", "zed")
	refused(t, s, `Invalid CIDR "10.0.0.0/99": use ADDRESS/BITS, e.g. 127.0.0.1/32`, "add-source", "all", "10.0.0.0/99", "trust")
	run(t, s, "grant", "riak_kv.get", "on", "any", "to", "user/alice")
	if out := run(t, s, "del-user", "alice"); out != "Successfully deleted alice\n" {
		t.Fatalf("del-user said %q", out)
	}
	run(t, s, "add-user", "alice")
	if strings.Contains(run(t, s, "print-grants", "user/alice"), "riak_kv.get") {
		t.Fatal("a re-created user inherited the deleted user's grants")
	}
}

func TestStatusIsClusterMetadata(t *testing.T) {
	s, md := newService(t)
	if run(t, s, "status") != "Disabled\n" || s.Enabled() {
		t.Fatal("security on by default")
	}
	run(t, s, "enable")
	if v, _ := md.Get(PrefixStatus, keyEnabled); string(v) != "true" || run(t, s, "status") != "Enabled\n" {
		t.Fatal("enable did not reach the metadata")
	}
	// A change merged from another node (here: written to the store
	// directly) is seen at once.
	md.Put(ctx, PrefixStatus, keyEnabled, []byte("false"))
	if s.Enabled() {
		t.Fatal("a metadata change was not seen")
	}
}

func TestPrintOutput(t *testing.T) {
	s, _ := newService(t)
	run(t, s, "add-group", "admins")
	run(t, s, "add-user", "riakuser", "groups=admins", "name=Riak")
	run(t, s, "add-user", "riakpass")
	run(t, s, "add-source", "riakuser,riakpass", "127.0.0.1/32", "certificate")
	run(t, s, "add-source", "all", "10.0.0.0/8", "password")
	run(t, s, "grant", "riak_kv.get,riak_kv.put", "on", "default", "to", "admins")
	run(t, s, "grant", "riak_kv.delete", "on", "default", "b", "to", "riakuser")

	got := run(t, s, "print-sources")
	lines := strings.Split(got, "\n")
	if len(lines) != 9 || lines[0] != "" || !strings.HasPrefix(lines[1], "+---") ||
		!strings.Contains(lines[2], "users") || !strings.Contains(lines[4], "riakuser, riakpass") ||
		!strings.Contains(lines[4], "127.0.0.1/32") || !strings.Contains(lines[5], " all ") {
		t.Fatalf("print-sources:\n%s", got)
	}
	// Exact layout of one table: widths are each column's widest cell.
	if lines[1] != "+--------------------+------------+-----------+----------+" ||
		lines[2] != "|       users        |    cidr    |  source   | options  |" ||
		lines[4] != "| riakuser, riakpass |127.0.0.1/32|certificate|    []    |" {
		t.Fatalf("print-sources layout:\n%s", got)
	}

	users := run(t, s, "print-users")
	if !strings.Contains(users, `[{"name","Riak"}]`) || !strings.Contains(users, "| riakuser |") || !strings.Contains(users, "admins") {
		t.Fatalf("print-users:\n%s", users)
	}
	grants := run(t, s, "print-grants", "riakuser")
	for _, want := range []string{
		"Inherited permissions (user/riakuser)\n\n",
		"Dedicated permissions (user/riakuser)\n\n",
		"Cumulative permissions (user/riakuser)\n\n",
		"riak_kv.put, riak_kv.get", // Riak lists a line's permissions last-first
		"riak_kv.delete",
	} {
		if !strings.Contains(grants, want) {
			t.Fatalf("print-grants lacks %q:\n%s", want, grants)
		}
	}
	if run(t, s, "print-grants", "riakpass") != "" {
		t.Fatal("a user without grants printed tables")
	}
}

func TestCentreAndPrettyList(t *testing.T) {
	if c := centre("ab", 5); c != " ab  " {
		t.Fatalf("centre: %q", c) // Erlang: the spare space goes right
	}
	if l := prettyList([]string{"riak_kv.get", "riak_kv.put", "riak_kv.delete", "riak_kv.index"}, 40); l != "riak_kv.get, riak_kv.delete,\nriak_kv.put, riak_kv.index" {
		t.Fatalf("prettyList: %q", l)
	}
}
