package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/tlsconf"
)

// riakgo admin [--url URL] VERB … speaks riak-admin's verbs to a node over
// HTTP, with riak-admin's output layout. Unlike riak-admin, a failed
// command exits non-zero.

const adminUsage = `usage: riakgo admin [--url http://127.0.0.1:8098] [--user U --password P] [--cacert CA] [--cert C --key K] COMMAND

With security on, admin commands need https:// and a user granted
riakgo.admin on any (--user, --password or RIAKGO_PASSWORD; --cacert
verifies the node's certificate). With security off, a node answers admin
commands from its own machine only (unless started with --admin-open).

commands:
  cluster join SEED          stage joining the cluster of the member whose gossip address is SEED
  cluster leave [NODE]       stage a leave of NODE (default: this node)
  cluster force-remove NODE  stage removing NODE without handing off its data
  cluster replace NODE NEW   stage NEW (a joining node) taking over NODE's partitions
  cluster force-replace NODE NEW   likewise without handing off NODE's data
  cluster plan               show the staged changes and their transitions
  cluster commit             apply the staged changes (on the claimant)
  cluster clear              discard the staged changes
  down NODE                  mark an unreachable member down, so that changes can be committed without it
  member-status              members, their status and ring ownership
  ring-status                claimant, pending ownership handoffs, unreachable nodes
  transfers                  partitions waiting to hand off and active transfers with progress
  ringready                  whether every member is up and lists the same partition owners (exit 0 only if so)
  repair [PARTITION]         refill a partition (on its owner), or all of this node's, from the neighbouring replicas
  aae-status                 this node's anti-entropy exchanges, repairs and trees awaiting a build
  aae-rebuild [PARTITION]    rebuild this node's anti-entropy trees from storage (all, or one partition's)
  bucket-type create NAME ['{"props":{...}}']
  bucket-type activate NAME
  bucket-type update NAME '{"props":{...}}'
  bucket-type status NAME
  bucket-type list
  security VERB ...          riak-admin's security verbs (riakgo admin security help)
`

type adminClient struct {
	base       string
	http       *http.Client
	user, pass string
}

func (c *adminClient) do(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode == 401 || resp.StatusCode == 426 || (resp.StatusCode == 403 && !json.Valid(b))) {
		// Security refused the call itself: say so the same way for
		// every command.
		return resp.StatusCode, b, fmt.Errorf("the node refused: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.StatusCode, b, err
}

func runAdmin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defURL := os.Getenv("RIAKGO_URL")
	if defURL == "" {
		defURL = "http://127.0.0.1:8098"
	}
	base := fs.String("url", defURL, "HTTP address of the node (env RIAKGO_URL)")
	user := fs.String("user", os.Getenv("RIAKGO_USER"), "user name when security is on (env RIAKGO_USER)")
	pass := fs.String("password", "", "password of --user (default: env RIAKGO_PASSWORD)")
	cacert := fs.String("cacert", os.Getenv("RIAKGO_CACERT"), "PEM CA file to verify the node's certificate (env RIAKGO_CACERT)")
	cert := fs.String("cert", "", "PEM client certificate (certificate sources)")
	key := fs.String("key", "", "PEM key of --cert")
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	if *pass == "" {
		*pass = os.Getenv("RIAKGO_PASSWORD")
	}
	tc, err := tlsconf.ClientConfig(*cacert, *cert, *key)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return 2
	}
	c := &adminClient{base: strings.TrimRight(*base, "/"), user: *user, pass: *pass,
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}}
	switch rest[0] {
	case "security":
		return adminSecurity(c, rest[1:], stdout, stderr)
	case "bucket-type":
		return adminBucketType(c, rest[1:], stdout, stderr)
	case "cluster":
		return adminCluster(c, rest[1:], stdout, stderr)
	case "member-status":
		return adminMemberStatus(c, rest[1:], stdout, stderr)
	case "down":
		return adminDown(c, rest[1:], stdout, stderr)
	case "ring-status":
		return adminRingStatus(c, rest[1:], stdout, stderr)
	case "transfers":
		return adminTransfers(c, rest[1:], stdout, stderr)
	case "ringready":
		return adminRingReady(c, rest[1:], stdout, stderr)
	case "repair":
		return adminRepair(c, rest[1:], stdout, stderr)
	case "aae-status":
		return adminAAEStatus(c, rest[1:], stdout, stderr)
	case "aae-rebuild":
		return adminAAERebuild(c, rest[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "riakgo admin: unknown command %q\n\n%s", rest[0], adminUsage)
	return 2
}

// adminType is a bucket-type route's answer: the type, or a failure.
type adminType struct {
	riakhttp.TypeJSON
	Error string `json:"error"`
	// Reasons per property, for validation failures.
	Reasons map[string]string `json:"reasons"`
}

func adminBucketType(c *adminClient, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	verb := args[0]
	need := map[string]int{"create": 2, "activate": 2, "update": 3, "status": 2, "list": 1}
	n, ok := need[verb]
	if !ok || len(args) < n || len(args) > 3 || (verb != "create" && len(args) != n) {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	name := ""
	if len(args) > 1 {
		name = args[1]
	}
	path := "/admin/bucket-types/" + url.PathEscape(name)
	var code int
	var body []byte
	var err error
	switch verb {
	case "list":
		code, body, err = c.do("GET", "/admin/bucket-types", nil)
	case "status":
		code, body, err = c.do("GET", path, nil)
	case "create":
		props := "{}"
		if len(args) == 3 && strings.TrimSpace(args[2]) != "" {
			props = args[2]
		}
		if !json.Valid([]byte(props)) {
			fmt.Fprintf(stderr, "Cannot create bucket type %s: invalid json\n", name)
			return 1
		}
		if props == "{}" {
			props = `{"props":{}}`
		}
		code, body, err = c.do("PUT", path, []byte(props))
	case "activate":
		code, body, err = c.do("POST", path+"/activate", nil)
	case "update":
		if !json.Valid([]byte(args[2])) {
			fmt.Fprintf(stderr, "Cannot update bucket type: %s: invalid json\n", name)
			return 1
		}
		code, body, err = c.do("PUT", path+"/props", []byte(args[2]))
	}
	if err != nil {
		fmt.Fprintf(stderr, "riakgo admin: %v\n", err)
		return 1
	}
	var t adminType
	_ = json.Unmarshal(body, &t)
	if verb == "list" {
		if code != 200 {
			fmt.Fprintf(stderr, "riakgo admin: %s\n", strings.TrimSpace(string(body)))
			return 1
		}
		var l riakhttp.TypesJSON
		if err := json.Unmarshal(body, &l); err != nil {
			fmt.Fprintf(stderr, "riakgo admin: bad answer: %v\n", err)
			return 1
		}
		for _, t := range l.Types {
			state := "not active"
			if t.Active {
				state = "active"
			}
			fmt.Fprintf(stdout, "%s (%s)\n", t.Name, state)
		}
		return 0
	}
	if code >= 300 {
		msg := t.Error
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		switch verb {
		case "status":
			if code == http.StatusNotFound {
				// riak-admin's whole answer; the body adds nothing.
				fmt.Fprintf(stdout, "%s is not an existing bucket type\n", name)
				return 1
			}
			fmt.Fprintf(stderr, "Error reading bucket type %s:\n", name)
		case "create":
			fmt.Fprintf(stderr, "Error creating bucket type %s:\n", name)
		case "update":
			fmt.Fprintf(stderr, "Error updating bucket type %s:\n", name)
		default:
			fmt.Fprintf(stderr, "Error activating bucket type %s:\n", name)
		}
		if len(t.Reasons) > 0 {
			keys := make([]string, 0, len(t.Reasons))
			for k := range t.Reasons {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(stderr, "%s: %s\n", k, t.Reasons[k])
			}
		} else {
			fmt.Fprintln(stderr, msg)
		}
		return 1
	}
	switch verb {
	case "create":
		fmt.Fprintf(stdout, "%s created\n", name)
	case "activate":
		fmt.Fprintf(stdout, "%s has been activated\n", name)
	case "update":
		fmt.Fprintf(stdout, "%s updated\n", name)
	case "status":
		switch t.Status {
		case "active":
			fmt.Fprintf(stdout, "%s is active\n", name)
		case "ready":
			fmt.Fprintf(stdout, "%s has been created and may be activated\n", name)
		default:
			fmt.Fprintf(stdout, "%s has been created but cannot be activated yet\n", name)
		}
		// riakgo's addition: which members hold this definition.
		if len(t.Have) > 0 {
			fmt.Fprintf(stdout, "members with this definition: %s\n", strings.Join(t.Have, ", "))
		}
		if len(t.Lack) > 0 {
			fmt.Fprintf(stdout, "members without it yet: %s\n", strings.Join(t.Lack, ", "))
		}
		fmt.Fprintln(stdout)
		keys := make([]string, 0, len(t.Props))
		for k := range t.Props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, _ := json.Marshal(t.Props[k])
			fmt.Fprintf(stdout, "%s: %s\n", k, strings.Trim(string(v), `"`))
		}
	}
	return 0
}
