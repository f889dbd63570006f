package security

import (
	"context"
	"strings"
)

// Usage is the list of security verbs, riak-admin's.
const Usage = `security commands:
  security enable | disable | status
  security add-user USER [password=PASS] [groups=G1,G2] [KEY=VALUE ...]
  security alter-user USER KEY=VALUE ...
  security del-user USER
  security add-group GROUP [groups=G1,G2] [KEY=VALUE ...]
  security alter-group GROUP KEY=VALUE ...
  security del-group GROUP
  security add-source all|USER1,USER2 CIDR trust|password|certificate [KEY=VALUE ...]
  security del-source all|USER1,USER2 CIDR
  security grant PERM1,PERM2 on any|TYPE [BUCKET] to all|ROLE1,ROLE2
  security revoke PERM1,PERM2 on any|TYPE [BUCKET] from all|ROLE1,ROLE2
  security print-users | print-user USER | print-groups | print-group GROUP
  security print-sources | print-grants USER|GROUP
`

// Command runs one riak-admin security verb given as its arguments
// ("add-user", "alice", "password=…") and returns what riak-admin prints
// on success; a refusal is a *CommandError with riak-admin's text.
func (s *Service) Command(ctx context.Context, args []string) (string, error) {
	if len(args) == 0 {
		return "", cmdErr("%s", strings.TrimRight(Usage, "\n"))
	}
	verb, rest := args[0], args[1:]
	n := len(rest)
	usage := func() (string, error) {
		return "", cmdErr("Usage: riakgo admin security %s", verbUsage[verb])
	}
	switch verb {
	case "enable", "disable", "status", "print-users", "print-groups", "print-sources":
		if n != 0 {
			return usage()
		}
	case "del-user", "del-group", "print-user", "print-group", "print-grants":
		if n != 1 {
			return usage()
		}
	case "add-user", "add-group":
		if n < 1 {
			return usage()
		}
	case "alter-user", "alter-group":
		if n < 2 {
			return usage()
		}
	case "add-source":
		if n < 3 {
			return usage()
		}
	case "del-source":
		if n != 2 {
			return usage()
		}
	case "grant", "revoke":
	default:
		return "", cmdErr("Unknown security command %q\n%s", verb, strings.TrimRight(Usage, "\n"))
	}
	switch verb {
	case "enable":
		return "", s.Enable(ctx)
	case "disable":
		return "", s.Disable(ctx)
	case "status":
		if s.Enabled() {
			return "Enabled\n", nil
		}
		return "Disabled\n", nil
	case "add-user", "add-group", "alter-user", "alter-group":
		opts, err := parseOptions(rest[1:])
		if err != nil {
			return "", err
		}
		switch verb {
		case "add-user":
			return "", s.AddUser(ctx, rest[0], opts)
		case "add-group":
			return "", s.AddGroup(ctx, rest[0], opts)
		case "alter-user":
			return "", s.AlterUser(ctx, rest[0], opts)
		}
		return "", s.AlterGroup(ctx, rest[0], opts)
	case "del-user", "del-group":
		var err error
		if verb == "del-user" {
			err = s.DelUser(ctx, rest[0])
		} else {
			err = s.DelGroup(ctx, rest[0])
		}
		if err != nil {
			return "", err
		}
		return "Successfully deleted " + rest[0] + "\n", nil
	case "add-source":
		cidr, err := parseCIDR(rest[1])
		if err != nil {
			return "", err
		}
		opts, err := parseOptions(rest[3:])
		if err != nil {
			return "", err
		}
		if err := s.AddSource(ctx, parseUsers(rest[0]), cidr, rest[2], opts); err != nil {
			return "", err
		}
		return "Successfully added source\n", nil
	case "del-source":
		cidr, err := parseCIDR(rest[1])
		if err != nil {
			return "", err
		}
		if err := s.DelSource(ctx, parseUsers(rest[0]), cidr); err != nil {
			return "", err
		}
		return "Deleted source\n", nil
	case "grant", "revoke":
		word := map[string]string{"grant": "to", "revoke": "from"}[verb]
		if !(n == 5 || n == 6) || rest[1] != "on" || rest[n-2] != word || (n == 6 && rest[2] == "any") {
			if verb == "grant" {
				return "", cmdErr("Usage: grant <permissions> on (<type> [bucket]|any) to <users>")
			}
			return "", cmdErr("Usage: revoke <permissions> on <type> [bucket] from <users>")
		}
		var b Bucket
		switch {
		case rest[2] == "any":
			b.Any = true
		case n == 6:
			b.Type, b.Bucket = rest[2], rest[3]
		default:
			b.Type = rest[2]
		}
		var perms []string
		for _, p := range strings.Split(rest[0], ",") {
			if p = strings.TrimSpace(p); p != "" {
				perms = append(perms, p)
			}
		}
		roles := parseUsers(rest[n-1])
		if verb == "grant" {
			if err := s.Grant(ctx, perms, b, roles); err != nil {
				return "", err
			}
			return "Successfully granted\n", nil
		}
		if err := s.Revoke(ctx, perms, b, roles); err != nil {
			return "", err
		}
		return "Successfully revoked\n", nil
	case "print-users":
		return s.PrintUsers("")
	case "print-user":
		return s.PrintUsers(rest[0])
	case "print-groups":
		return s.PrintGroups("")
	case "print-group":
		return s.PrintGroups(rest[0])
	case "print-sources":
		return s.PrintSources(), nil
	case "print-grants":
		return s.PrintGrants(rest[0])
	}
	return "", errUnknownCommand
}

var verbUsage = map[string]string{
	"enable": "enable", "disable": "disable", "status": "status",
	"add-user":      "add-user USER [KEY=VALUE ...]",
	"add-group":     "add-group GROUP [KEY=VALUE ...]",
	"alter-user":    "alter-user USER KEY=VALUE ...",
	"alter-group":   "alter-group GROUP KEY=VALUE ...",
	"del-user":      "del-user USER",
	"del-group":     "del-group GROUP",
	"add-source":    "add-source all|USERS CIDR SOURCE [KEY=VALUE ...]",
	"del-source":    "del-source all|USERS CIDR",
	"print-users":   "print-users",
	"print-user":    "print-user USER",
	"print-groups":  "print-groups",
	"print-group":   "print-group GROUP",
	"print-sources": "print-sources",
	"print-grants":  "print-grants USER|GROUP",
}
