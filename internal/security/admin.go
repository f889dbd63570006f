package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// PermAdmin lets a user run riakgo's admin verbs (cluster changes, bucket
// types, anti-entropy, security) when security is on. It is riakgo's own
// (riak-admin runs on the node and needs none) and is granted on any only.
const PermAdmin = "riakgo.admin"

// Permissions are the permissions a grant may name: Riak's riak_kv and
// riak_core ones riakgo serves, and riakgo.admin.
var Permissions = []string{
	"riak_kv.get", "riak_kv.get_preflist", "riak_kv.put", "riak_kv.delete",
	"riak_kv.list_keys", "riak_kv.list_buckets", "riak_kv.index", "riak_kv.mapreduce",
	"riak_core.get_bucket", "riak_core.set_bucket", "riak_core.get_bucket_type", "riak_core.set_bucket_type",
	PermAdmin,
}

// CommandError is a refused security command; its text is riak-admin's.
type CommandError struct{ Msg string }

func (e *CommandError) Error() string { return e.Msg }

func cmdErr(format string, args ...any) error {
	return &CommandError{Msg: fmt.Sprintf(format, args...)}
}

var reserved = map[string]bool{"all": true, "on": true, "to": true, "from": true, "any": true}

// illegalName reports whether a name holds a character riak_core refuses:
// controls, space and !"#$%&'()*+, ; : ; < = > ? ; DEL and 127..191.
func illegalName(name string) bool {
	if name == "" {
		return true
	}
	for _, r := range name {
		if r <= 44 || (r >= 58 && r <= 63) || (r >= 127 && r <= 191) {
			return true
		}
	}
	return false
}

// parseOptions parses key=value arguments (keys lower-cased).
func parseOptions(args []string) ([]Option, error) {
	var out []Option
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, cmdErr("Invalid option %q, options are of the form key=value", a)
		}
		out = setOption(out, strings.ToLower(k), v)
	}
	return out, nil
}

func setOption(opts []Option, k, v string) []Option {
	for i := range opts {
		if opts[i].Key == k {
			opts[i].Value = v
			return opts
		}
	}
	opts = append(opts, Option{k, v})
	slices.SortFunc(opts, func(a, b Option) int { return strings.Compare(a.Key, b.Key) })
	return opts
}

func getOption(opts []Option, k string) (string, bool) {
	for _, o := range opts {
		if o.Key == k {
			return o.Value, true
		}
	}
	return "", false
}

func dropOption(opts []Option, k string) []Option {
	return slices.DeleteFunc(slices.Clone(opts), func(o Option) bool { return o.Key == k })
}

// groupsOption checks a groups=a,b option against the existing groups
// ("all" is never a container and is dropped).
func groupsOption(sn *snapshot, v string) ([]string, error) {
	var out, unknown []string
	for _, g := range strings.Split(v, ",") {
		g = strings.ToLower(strings.TrimSpace(g))
		if g == "" || g == All {
			continue
		}
		if _, ok := sn.groups[g]; !ok {
			unknown = append(unknown, g)
			continue
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	if len(unknown) > 0 {
		return nil, cmdErr("Group(s) not recognized: %s", strings.Join(unknown, ", "))
	}
	slices.Sort(out)
	return out, nil
}

func (s *Service) put(ctx context.Context, prefix, key string, v any) error {
	err := s.md.Put(ctx, prefix, key, mustJSON(v))
	s.settle()
	return err
}

func (s *Service) del(ctx context.Context, prefix, key string) error {
	err := s.md.Delete(ctx, prefix, key)
	s.settle()
	return err
}

// settle makes the next read see a change just written here even if the
// store notified nobody (a store without subscribers in tests).
func (s *Service) settle() {
	s.epoch.Add(1)
	s.snap.Store(nil)
}

func roleName(n string) string { return strings.ToLower(n) }

// AddUser is add-user NAME [password=…] [groups=a,b] [key=value…].
func (s *Service) AddUser(ctx context.Context, name string, opts []Option) error {
	return s.addRole(ctx, roleName(name), opts, true)
}

// AddGroup is add-group NAME [groups=a,b] [key=value…].
func (s *Service) AddGroup(ctx context.Context, name string, opts []Option) error {
	return s.addRole(ctx, roleName(name), opts, false)
}

func (s *Service) addRole(ctx context.Context, name string, opts []Option, user bool) error {
	if reserved[name] {
		return cmdErr("This name is reserved for system use")
	}
	if illegalName(name) {
		return cmdErr("Illegal character(s) in name")
	}
	sn := s.current()
	_, isUser := sn.users[name]
	_, isGroup := sn.groups[name]
	if (user && isUser) || (!user && isGroup) {
		return cmdErr("This name is already in use")
	}
	if user {
		u, err := s.userRecord(sn, userRec{}, opts)
		if err != nil {
			return err
		}
		return s.put(ctx, PrefixUsers, name, u)
	}
	g, err := groupRecord(sn, groupRec{}, opts)
	if err != nil {
		return err
	}
	return s.put(ctx, PrefixGroups, name, g)
}

func (s *Service) userRecord(sn *snapshot, u userRec, opts []Option) (userRec, error) {
	for _, o := range opts {
		switch o.Key {
		case "password":
			u.Password = hashPassword(o.Value, s.kdf)
		case "groups":
			gs, err := groupsOption(sn, o.Value)
			if err != nil {
				return u, err
			}
			u.Groups = gs
		default:
			u.Options = setOption(slices.Clone(u.Options), o.Key, o.Value)
		}
	}
	return u, nil
}

func groupRecord(sn *snapshot, g groupRec, opts []Option) (groupRec, error) {
	for _, o := range opts {
		switch o.Key {
		case "groups":
			gs, err := groupsOption(sn, o.Value)
			if err != nil {
				return g, err
			}
			g.Groups = gs
		default:
			g.Options = setOption(slices.Clone(g.Options), o.Key, o.Value)
		}
	}
	return g, nil
}

// AlterUser is alter-user NAME key=value…: the options given replace
// those of the same key.
func (s *Service) AlterUser(ctx context.Context, name string, opts []Option) error {
	name = roleName(name)
	if name == All {
		return cmdErr("This name is reserved for system use")
	}
	sn := s.current()
	u, ok := sn.users[name]
	if !ok {
		return cmdErr("User not recognized: %s", name)
	}
	u, err := s.userRecord(sn, u, opts)
	if err != nil {
		return err
	}
	return s.put(ctx, PrefixUsers, name, u)
}

// AlterGroup is alter-group NAME key=value….
func (s *Service) AlterGroup(ctx context.Context, name string, opts []Option) error {
	name = roleName(name)
	if name == All {
		return cmdErr("This name is reserved for system use")
	}
	sn := s.current()
	g, ok := sn.groups[name]
	if !ok {
		return cmdErr("Group not recognized: %s", name)
	}
	g, err := groupRecord(sn, g, opts)
	if err != nil {
		return err
	}
	return s.put(ctx, PrefixGroups, name, g)
}

// DelUser is del-user NAME: the user, its grants and its sources go.
func (s *Service) DelUser(ctx context.Context, name string) error {
	name = roleName(name)
	if name == All {
		return cmdErr("This name is reserved for system use")
	}
	sn := s.current()
	if _, ok := sn.users[name]; !ok {
		return cmdErr("User not recognized: %s", name)
	}
	if err := s.del(ctx, PrefixUsers, name); err != nil {
		return err
	}
	for _, g := range sn.userGrants {
		if g.Role == name {
			if err := s.del(ctx, PrefixUserGrants, grantKey(name, g.Bucket)); err != nil {
				return err
			}
		}
	}
	for _, src := range sn.sources {
		if src.User == name {
			if err := s.del(ctx, PrefixSources, sourceKey(name, src.Prefix)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DelGroup is del-group NAME: the group and its grants go, and it leaves
// every user and group that belonged to it.
func (s *Service) DelGroup(ctx context.Context, name string) error {
	name = roleName(name)
	if name == All {
		return cmdErr("This name is reserved for system use")
	}
	sn := s.current()
	if _, ok := sn.groups[name]; !ok {
		return cmdErr("Group not recognized: %s", name)
	}
	if err := s.del(ctx, PrefixGroups, name); err != nil {
		return err
	}
	for _, g := range sn.groupGrants {
		if g.Role == name {
			if err := s.del(ctx, PrefixGroupGrants, grantKey(name, g.Bucket)); err != nil {
				return err
			}
		}
	}
	for u, rec := range sn.users {
		if slices.Contains(rec.Groups, name) {
			rec.Groups = slices.DeleteFunc(slices.Clone(rec.Groups), func(g string) bool { return g == name })
			if err := s.put(ctx, PrefixUsers, u, rec); err != nil {
				return err
			}
		}
	}
	for g, rec := range sn.groups {
		if slices.Contains(rec.Groups, name) {
			rec.Groups = slices.DeleteFunc(slices.Clone(rec.Groups), func(x string) bool { return x == name })
			if err := s.put(ctx, PrefixGroups, g, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseUsers reads a USERS argument: "all" or a comma-separated list.
func parseUsers(arg string) []string {
	var out []string
	for _, u := range strings.Split(arg, ",") {
		if u = roleName(strings.TrimSpace(u)); u != "" {
			out = append(out, u)
		}
	}
	if len(out) == 1 && out[0] == All {
		return []string{All}
	}
	return out
}

func parseCIDR(arg string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(arg))
	if err != nil {
		return netip.Prefix{}, cmdErr("Invalid CIDR %q: use ADDRESS/BITS, e.g. 127.0.0.1/32", arg)
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked(), nil
}

func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

// AddSource is add-source USERS CIDR SOURCE [key=value…].
func (s *Service) AddSource(ctx context.Context, users []string, cidr netip.Prefix, kind string, opts []Option) error {
	kind = strings.ToLower(kind)
	switch kind {
	case SourceTrust, SourcePassword, SourceCertificate:
	default:
		return cmdErr("Invalid source %s: riakgo knows trust, password and certificate", kind)
	}
	sn := s.current()
	if !(len(users) == 1 && users[0] == All) {
		var unknown []string
		for _, u := range users {
			if _, ok := sn.users[u]; !ok {
				unknown = append(unknown, u)
			}
		}
		if len(unknown) > 0 {
			return cmdErr("User(s) not recognized: %s", strings.Join(unknown, ", "))
		}
	}
	for _, u := range users {
		if err := s.put(ctx, PrefixSources, sourceKey(u, cidr), sourceRec{Source: kind, Options: opts}); err != nil {
			return err
		}
	}
	return nil
}

// DelSource is del-source USERS CIDR.
func (s *Service) DelSource(ctx context.Context, users []string, cidr netip.Prefix) error {
	for _, u := range users {
		if _, ok := s.md.Get(PrefixSources, sourceKey(u, cidr)); !ok {
			continue
		}
		if err := s.del(ctx, PrefixSources, sourceKey(u, cidr)); err != nil {
			return err
		}
	}
	return nil
}

type role struct {
	name  string
	group bool
}

// resolveRoles maps grant targets to users and groups: "all" is the
// group all; "user/x" and "group/x" name their kind; a bare name must be
// exactly one of them.
func (sn *snapshot) resolveRoles(names []string) ([]role, error) {
	if len(names) == 1 && names[0] == All {
		return []role{{All, true}}, nil
	}
	var out []role
	var unknown, both []string
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "user/"):
			n = strings.TrimPrefix(n, "user/")
			if _, ok := sn.users[n]; !ok {
				unknown = append(unknown, n)
				continue
			}
			out = append(out, role{n, false})
		case strings.HasPrefix(n, "group/"):
			n = strings.TrimPrefix(n, "group/")
			if _, ok := sn.groups[n]; !ok {
				unknown = append(unknown, n)
				continue
			}
			out = append(out, role{n, true})
		default:
			_, u := sn.users[n]
			_, g := sn.groups[n]
			switch {
			case u && g:
				both = append(both, n)
			case u:
				out = append(out, role{n, false})
			case g:
				out = append(out, role{n, true})
			default:
				unknown = append(unknown, n)
			}
		}
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, "Name(s) not recognized: "+strings.Join(unknown, ", "))
	}
	if len(both) > 0 {
		msgs = append(msgs, "Ambiguous names need to be prefixed with 'user/' or 'group/': "+strings.Join(both, ", "))
	}
	if len(msgs) > 0 {
		return nil, cmdErr("%s", strings.Join(msgs, "\n"))
	}
	return out, nil
}

func checkPermissions(perms []string, b Bucket) error {
	for _, p := range perms {
		if !slices.Contains(Permissions, p) {
			return cmdErr("Permission not recognized: %s", p)
		}
		if p == PermAdmin && !b.Any {
			return cmdErr("%s can only be granted on any", PermAdmin)
		}
	}
	return nil
}

func grantPrefix(r role) string {
	if r.group {
		return PrefixGroupGrants
	}
	return PrefixUserGrants
}

func (s *Service) storedPerms(r role, b Bucket) []string {
	v, ok := s.md.Get(grantPrefix(r), grantKey(r.name, b))
	if !ok {
		return nil
	}
	var perms []string
	_ = json.Unmarshal(v, &perms)
	return perms
}

// Grant is grant PERMS on (any | TYPE [BUCKET]) to ROLES.
func (s *Service) Grant(ctx context.Context, perms []string, b Bucket, roles []string) error {
	sn := s.current()
	rs, rerr := sn.resolveRoles(roles)
	if perr := checkPermissions(perms, b); perr != nil || rerr != nil {
		return joinErrs(rerr, perr)
	}
	for _, r := range rs {
		cur := s.storedPerms(r, b)
		for _, p := range perms {
			if !slices.Contains(cur, p) {
				cur = append(cur, p)
			}
		}
		slices.Sort(cur)
		if err := s.put(ctx, grantPrefix(r), grantKey(r.name, b), cur); err != nil {
			return err
		}
	}
	return nil
}

// Revoke is revoke PERMS on (any | TYPE [BUCKET]) from ROLES.
func (s *Service) Revoke(ctx context.Context, perms []string, b Bucket, roles []string) error {
	sn := s.current()
	rs, rerr := sn.resolveRoles(roles)
	if perr := checkPermissions(perms, Bucket{Any: true}); perr != nil || rerr != nil {
		return joinErrs(rerr, perr)
	}
	for _, r := range rs {
		cur := s.storedPerms(r, b)
		if cur == nil {
			continue
		}
		left := slices.DeleteFunc(slices.Clone(cur), func(p string) bool { return slices.Contains(perms, p) })
		var err error
		if len(left) == 0 {
			err = s.del(ctx, grantPrefix(r), grantKey(r.name, b))
		} else {
			err = s.put(ctx, grantPrefix(r), grantKey(r.name, b), left)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func joinErrs(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	return cmdErr("%s", strings.Join(msgs, "\n"))
}

// Enable turns security on cluster-wide; Disable turns it off.
func (s *Service) Enable(ctx context.Context) error {
	return s.put(ctx, PrefixStatus, keyEnabled, true)
}

// Disable turns security off cluster-wide.
func (s *Service) Disable(ctx context.Context) error {
	return s.put(ctx, PrefixStatus, keyEnabled, false)
}
