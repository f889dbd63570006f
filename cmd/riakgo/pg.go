package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/riakgo/riakgo/client"
)

const pgUsage = `usage: riakgo pg [--url URL] [--type T] VERB ARGS [flags]

Process groups (docs/pg.md). A member is owned by the node it joins
through: join, leave and heartbeat it through the same --url.

verbs:
  join SCOPE GROUP ID [--count N] [--meta M] [--ttl D]   join (a TTL lease needs heartbeats)
  join SCOPE GROUP ID --hold                             join while this command runs (Ctrl-C leaves)
  leave SCOPE GROUP ID [--count N]                       leave N instances (default all)
  leave-all ID                                           leave every group
  heartbeat ID                                           renew a TTL lease
  members SCOPE GROUP [--filter all|local|remote|connected] [--node NAME]
  pick SCOPE GROUP [--strategy random|closest|furthest|oldest|newest|hash] [--key K]
  groups SCOPE                                           non-empty groups of a scope
  watch SCOPE [GROUP]                                    print events as JSON lines until Ctrl-C
  stats                                                  the node's pg counters
  bench --urls U1,U2,… [flags]                           join/members/pick/leave rates (riakgo pg bench -h)

flags before VERB:
  --url URL    HTTP address of the node (env RIAKGO_URL, default http://127.0.0.1:8098)
  --type T     a pg-typed bucket type other than "pg"
`

func runPG(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defURL := os.Getenv("RIAKGO_URL")
	if defURL == "" {
		defURL = "http://127.0.0.1:8098"
	}
	base := fs.String("url", defURL, "")
	typ := fs.String("type", "", "")
	fs.Usage = func() { fmt.Fprint(stderr, pgUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, pgUsage)
		return 2
	}
	if rest[0] == "bench" {
		return runPGBench(rest[1:], stdout, stderr)
	}
	c, err := client.New(*base, client.WithTimeout(0))
	if err != nil {
		fmt.Fprintf(stderr, "riakgo pg: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v := pgVerb{c: c, typ: *typ, stdout: stdout, stderr: stderr, ctx: ctx}
	switch rest[0] {
	case "join":
		return v.join(rest[1:])
	case "leave":
		return v.leave(rest[1:])
	case "leave-all":
		return v.simple(rest[1:], 1, func(a []string) (any, error) { return map[string]string{"left": a[0]}, c.PGLeaveAll(ctx, a[0]) })
	case "heartbeat":
		return v.simple(rest[1:], 1, func(a []string) (any, error) { return map[string]string{"renewed": a[0]}, c.PGHeartbeat(ctx, a[0]) })
	case "members":
		return v.members(rest[1:])
	case "pick":
		return v.pick(rest[1:])
	case "groups":
		return v.simple(rest[1:], 1, func(a []string) (any, error) {
			gs, err := c.PGGroups(ctx, v.scope(a[0]))
			if gs == nil {
				gs = []string{}
			}
			return gs, err
		})
	case "stats":
		return v.simple(rest[1:], 0, func([]string) (any, error) { return c.PGStats(ctx) })
	case "watch":
		return v.watch(rest[1:])
	}
	fmt.Fprintf(stderr, "riakgo pg: unknown verb %q\n\n%s", rest[0], pgUsage)
	return 2
}

type pgVerb struct {
	c              *client.Client
	typ            string
	stdout, stderr io.Writer
	ctx            context.Context
}

func (v pgVerb) scope(bucket string) client.PGScope {
	return client.PGScope{Type: v.typ, Bucket: bucket}
}

// parse parses flags placed anywhere among args and checks the count of
// positional arguments.
func (v pgVerb) parse(verb string, args []string, want int, setup func(*flag.FlagSet)) ([]string, bool) {
	fs := flag.NewFlagSet("pg "+verb, flag.ContinueOnError)
	fs.SetOutput(v.stderr)
	if setup != nil {
		setup(fs)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != want {
		fmt.Fprintf(v.stderr, "riakgo pg %s: expected %d arguments, got %d\n\n%s", verb, want, len(pos), pgUsage)
		return nil, false
	}
	return pos, true
}

func (v pgVerb) print(out any, err error) int {
	if err != nil {
		fmt.Fprintf(v.stderr, "riakgo pg: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(v.stdout, string(b))
	return 0
}

func (v pgVerb) simple(args []string, want int, f func([]string) (any, error)) int {
	pos, ok := v.parse("verb", args, want, nil)
	if !ok {
		return 2
	}
	return v.print(f(pos))
}

func (v pgVerb) join(args []string) int {
	var o client.PGJoinOptions
	var hold bool
	pos, ok := v.parse("join", args, 3, func(fs *flag.FlagSet) {
		fs.IntVar(&o.Count, "count", 0, "instances to add")
		fs.StringVar(&o.Meta, "meta", "", "the member's metadata")
		fs.DurationVar(&o.TTL, "ttl", 0, "lease; renew with heartbeat")
		fs.BoolVar(&hold, "hold", false, "keep the member while this command runs")
	})
	if !ok {
		return 2
	}
	s := v.scope(pos[0])
	if !hold {
		n, err := v.c.PGJoin(v.ctx, s, pos[1], pos[2], &o)
		return v.print(map[string]any{"id": pos[2], "count": n}, err)
	}
	if o.TTL != 0 || o.Count != 0 || o.Meta != "" {
		fmt.Fprintln(v.stderr, "riakgo pg join: --hold takes no --count, --meta or --ttl")
		return 2
	}
	held, err := v.c.PGJoinHeld(v.ctx, s, pos[1], pos[2])
	if err != nil {
		return v.print(nil, err)
	}
	fmt.Fprintf(v.stdout, "{\"id\":%q,\"held\":true}\n", pos[2])
	<-v.ctx.Done()
	held.Close()
	return 0
}

func (v pgVerb) leave(args []string) int {
	var count int
	pos, ok := v.parse("leave", args, 3, func(fs *flag.FlagSet) {
		fs.IntVar(&count, "count", 0, "instances to remove (0: all)")
	})
	if !ok {
		return 2
	}
	n, err := v.c.PGLeave(v.ctx, v.scope(pos[0]), pos[1], pos[2], count)
	return v.print(map[string]any{"id": pos[2], "count": n}, err)
}

func (v pgVerb) members(args []string) int {
	var filter, node string
	pos, ok := v.parse("members", args, 2, func(fs *flag.FlagSet) {
		fs.StringVar(&filter, "filter", "", "all, local, remote or connected")
		fs.StringVar(&node, "node", "", "only the members of this node")
	})
	if !ok {
		return 2
	}
	if node != "" {
		filter = "node:" + node
	}
	ms, err := v.c.PGMembers(v.ctx, v.scope(pos[0]), pos[1], filter)
	if ms == nil {
		ms = []client.PGMember{}
	}
	return v.print(ms, err)
}

func (v pgVerb) pick(args []string) int {
	var strategy, key string
	pos, ok := v.parse("pick", args, 2, func(fs *flag.FlagSet) {
		fs.StringVar(&strategy, "strategy", "", "random, closest, furthest, oldest, newest or hash")
		fs.StringVar(&key, "key", "", "the hash strategy's key")
	})
	if !ok {
		return 2
	}
	return v.print(v.c.PGPick(v.ctx, v.scope(pos[0]), pos[1], strategy, key))
}

func (v pgVerb) watch(args []string) int {
	if len(args) != 1 && len(args) != 2 {
		fmt.Fprintf(v.stderr, "riakgo pg watch: expected SCOPE [GROUP]\n\n%s", pgUsage)
		return 2
	}
	group := ""
	if len(args) == 2 {
		group = args[1]
	}
	err := v.c.PGWatch(v.ctx, v.scope(args[0]), group, func(ev client.PGEvent) error {
		b, _ := json.Marshal(ev)
		_, err := fmt.Fprintln(v.stdout, string(b))
		return err
	})
	if err != nil && v.ctx.Err() == nil {
		fmt.Fprintf(v.stderr, "riakgo pg watch: %v\n", err)
		return 1
	}
	return 0
}

// splitURLs splits a comma-separated list of URLs.
func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
