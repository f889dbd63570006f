package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/riakgo/riakgo/internal/secret"
)

// riakgo admin security VERB … runs riak-admin's security verbs on the
// node (POST /admin/security) and prints riak-admin's output.
func adminSecurity(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(stderr, securityUsage)
		return 2
	}
	body, _ := json.Marshal(map[string]any{"args": args})
	code, b, err := c.do("POST", "/admin/security", body)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return 1
	}
	var a struct {
		Output string `json:"output"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		fmt.Fprintf(stderr, "riakgo admin: unexpected answer %d: %s\n", code, strings.TrimSpace(string(b)))
		return 1
	}
	if code != 200 {
		fmt.Fprintln(stderr, a.Error)
		return 1
	}
	fmt.Fprint(stdout, a.Output)
	return 0
}

const securityUsage = `usage: riakgo admin security VERB ...

  enable | disable | status
  add-user USER [password=PASS] [groups=G1,G2] [KEY=VALUE ...]
  alter-user USER KEY=VALUE ...
  del-user USER
  add-group GROUP [groups=G1,G2] [KEY=VALUE ...]
  alter-group GROUP KEY=VALUE ...
  del-group GROUP
  add-source all|USER1,USER2 CIDR trust|password|certificate [KEY=VALUE ...]
  del-source all|USER1,USER2 CIDR
  grant PERM1,PERM2 on any|TYPE [BUCKET] to all|ROLE1,ROLE2
  revoke PERM1,PERM2 on any|TYPE [BUCKET] from all|ROLE1,ROLE2
  print-users | print-user USER | print-groups | print-group GROUP
  print-sources | print-grants USER|GROUP

Permissions: riak_kv.get, riak_kv.get_preflist, riak_kv.put, riak_kv.delete,
riak_kv.list_keys, riak_kv.list_buckets, riak_kv.index, riak_kv.mapreduce,
riak_core.get_bucket, riak_core.set_bucket, riak_core.get_bucket_type,
riak_core.set_bucket_type, and riakgo.admin (admin verbs; on any only).
`

// riakgo secret prints a new random cluster secret for
// --cluster-secret-file.
func runSecret(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: riakgo secret   (prints a new cluster secret; put it in a file of mode 0600 on every node)")
		return 2
	}
	fmt.Fprintln(stdout, secret.Generate())
	return 0
}
