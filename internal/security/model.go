package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/internal/metadata"
)

// Metadata prefixes.
const (
	PrefixUsers       = "security_users"
	PrefixGroups      = "security_groups"
	PrefixSources     = "security_sources"
	PrefixUserGrants  = "security_usergrants"
	PrefixGroupGrants = "security_groupgrants"
	PrefixStatus      = "security_status"
	keyEnabled        = "enabled"
)

// All is the pseudo-user of sources and pseudo-group of grants that
// applies to every user.
const All = "all"

// Option is one key=value option of a user or group (riak-admin's), keys
// lower-cased.
type Option struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// userRec is a user's stored record.
type userRec struct {
	Password string   `json:"password,omitempty"` // Argon2id PHC string
	Groups   []string `json:"groups,omitempty"`
	Options  []Option `json:"options,omitempty"`
}

// groupRec is a group's stored record.
type groupRec struct {
	Groups  []string `json:"groups,omitempty"`
	Options []Option `json:"options,omitempty"`
}

// Source kinds.
const (
	SourceTrust       = "trust"
	SourcePassword    = "password"
	SourceCertificate = "certificate"
)

// sourceRec is a source's stored value; its key is "user cidr".
type sourceRec struct {
	Source  string   `json:"source"`
	Options []Option `json:"options,omitempty"`
}

// source is a parsed source.
type source struct {
	User    string // a user name or All
	Prefix  netip.Prefix
	Source  string
	Options []Option
}

func sourceKey(user string, p netip.Prefix) string { return user + " " + p.String() }

// Bucket names what a grant applies to: Any, a bucket type (Bucket
// empty) or a bucket of a type.
type Bucket struct {
	Any          bool
	Type, Bucket string
}

// String renders the bucket as Riak's permission errors do: "T/B", "T" or
// "any".
func (b Bucket) String() string {
	switch {
	case b.Any:
		return "any"
	case b.Bucket == "":
		return b.Type
	}
	return b.Type + "/" + b.Bucket
}

// grantKey is the metadata key of a role's grants on a bucket: a JSON
// array [role, "any"] / [role, "type", T] / [role, "bucket", T, B].
func grantKey(role string, b Bucket) string {
	var parts []string
	switch {
	case b.Any:
		parts = []string{role, "any"}
	case b.Bucket == "":
		parts = []string{role, "type", b.Type}
	default:
		parts = []string{role, "bucket", b.Type, b.Bucket}
	}
	k, _ := json.Marshal(parts)
	return string(k)
}

func parseGrantKey(k string) (role string, b Bucket, ok bool) {
	var parts []string
	if json.Unmarshal([]byte(k), &parts) != nil || len(parts) < 2 {
		return "", Bucket{}, false
	}
	switch {
	case parts[1] == "any" && len(parts) == 2:
		return parts[0], Bucket{Any: true}, true
	case parts[1] == "type" && len(parts) == 3 && parts[2] != "":
		return parts[0], Bucket{Type: parts[2]}, true
	case parts[1] == "bucket" && len(parts) == 4 && parts[2] != "" && parts[3] != "":
		return parts[0], Bucket{Type: parts[2], Bucket: parts[3]}, true
	}
	return "", Bucket{}, false
}

// grant is one role's permissions on a bucket.
type grant struct {
	Role   string // user or group name
	Bucket Bucket
	Perms  []string
}

// snapshot is a parsed copy of the security metadata.
type snapshot struct {
	enabled     bool
	users       map[string]userRec
	groups      map[string]groupRec
	sources     []source // sorted for matching: most specific first
	userGrants  []grant
	groupGrants []grant
}

// readSnapshot parses the metadata. Malformed records (which only a bug
// or a hostile member could write) are skipped.
func readSnapshot(md Metadata) *snapshot {
	s := &snapshot{users: map[string]userRec{}, groups: map[string]groupRec{}}
	if v, ok := md.Get(PrefixStatus, keyEnabled); ok && string(v) == "true" {
		s.enabled = true
	}
	for _, kv := range md.List(PrefixUsers) {
		var u userRec
		if json.Unmarshal(kv.Value, &u) == nil {
			s.users[kv.Key] = u
		}
	}
	for _, kv := range md.List(PrefixGroups) {
		var g groupRec
		if json.Unmarshal(kv.Value, &g) == nil {
			s.groups[kv.Key] = g
		}
	}
	for _, kv := range md.List(PrefixSources) {
		user, cidr, ok := strings.Cut(kv.Key, " ")
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		var r sourceRec
		if err != nil || json.Unmarshal(kv.Value, &r) != nil {
			continue
		}
		s.sources = append(s.sources, source{User: user, Prefix: p, Source: r.Source, Options: r.Options})
	}
	sortSources(s.sources)
	for _, g := range []struct {
		prefix string
		dst    *[]grant
	}{{PrefixUserGrants, &s.userGrants}, {PrefixGroupGrants, &s.groupGrants}} {
		for _, kv := range md.List(g.prefix) {
			role, b, ok := parseGrantKey(kv.Key)
			var perms []string
			if !ok || json.Unmarshal(kv.Value, &perms) != nil || len(perms) == 0 {
				continue
			}
			*g.dst = append(*g.dst, grant{Role: role, Bucket: b, Perms: perms})
		}
	}
	return s
}

// sortSources orders sources for matching: the longest prefix first, and
// for equal prefixes a user's own source before the one for all.
func sortSources(ss []source) {
	slices.SortStableFunc(ss, func(a, b source) int {
		if a.Prefix.Bits() != b.Prefix.Bits() {
			return b.Prefix.Bits() - a.Prefix.Bits()
		}
		if (a.User == All) != (b.User == All) {
			if a.User == All {
				return 1
			}
			return -1
		}
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return a.Prefix.Addr().Compare(b.Prefix.Addr())
	})
}

// matchSource returns the first source for user that matches addr.
func (s *snapshot) matchSource(user string, addr netip.Addr) (source, bool) {
	addr = addr.Unmap()
	for _, src := range s.sources {
		if (src.User == All || src.User == user) && src.Prefix.Contains(addr) {
			return src, true
		}
	}
	return source{}, false
}

// roleGrant is a grant together with the role it came from, "user/NAME"
// or "group/NAME" (for print-grants).
type roleGrant struct {
	From string
	grant
}

// grantsOf returns the grants that apply to a user (kind "user") or a
// group: its own, those of the groups it belongs to (transitively, each
// group once, only groups that exist) and those of the group all.
func (s *snapshot) grantsOf(name, kind string) []roleGrant {
	var out []roleGrant
	for _, g := range s.groupGrants {
		if g.Role == All {
			out = append(out, roleGrant{"group/" + All, g})
		}
	}
	seen := map[string]bool{}
	var visit func(name, kind string)
	visit = func(name, kind string) {
		var groups []string
		var grants []grant
		if kind == "user" {
			groups = s.users[name].Groups
			grants = s.userGrants
		} else {
			if seen[name] {
				return
			}
			seen[name] = true
			groups = s.groups[name].Groups
			grants = s.groupGrants
		}
		for _, g := range groups {
			if _, ok := s.groups[g]; ok && !seen[g] {
				visit(g, "group")
			}
		}
		if kind == "group" && name == All {
			return // counted above
		}
		for _, g := range grants {
			if g.Role == name {
				out = append(out, roleGrant{kind + "/" + name, g})
			}
		}
	}
	visit(name, kind)
	return out
}

// permissions is a role's merged grants: bucket → permission set.
type permissions map[Bucket]map[string]bool

func (s *snapshot) permissionsOf(user string) permissions {
	p := permissions{}
	for _, g := range s.grantsOf(user, "user") {
		set := p[g.Bucket]
		if set == nil {
			set = map[string]bool{}
			p[g.Bucket] = set
		}
		for _, perm := range g.Perms {
			set[perm] = true
		}
	}
	return p
}

// allows reports whether p holds perm on b: a grant on any, on b's type
// (for a bucket or a type) or on b itself.
func (p permissions) allows(perm string, b Bucket) bool {
	if p[Bucket{Any: true}][perm] {
		return true
	}
	if b.Any {
		return false
	}
	if p[Bucket{Type: b.Type}][perm] {
		return true
	}
	return b.Bucket != "" && p[b][perm]
}

// Metadata is what the service needs of the cluster metadata
// (*metadata.Store).
type Metadata interface {
	Get(prefix, key string) ([]byte, bool)
	List(prefix string) []metadata.KeyValue
	Subscribe(fn func(prefix, key string))
	Put(ctx context.Context, prefix, key string, value []byte) error
	Delete(ctx context.Context, prefix, key string) error
}

func isSecurityPrefix(p string) bool { return strings.HasPrefix(p, "security_") }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("riakgo/security: encoding %T: %v", v, err))
	}
	return b
}
