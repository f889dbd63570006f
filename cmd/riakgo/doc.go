// Command riakgo is the riakgo server and its tools, one file per
// subcommand: start runs a node (internal/node), admin speaks riak-admin's
// verbs to a running node over its HTTP admin routes (security,
// bucket-type, cluster, member-status, down, ring-status, transfers,
// ringready, repair, aae-status, aae-rebuild; it decodes the answers into
// http's admin types, never handoff's), bench drives a basho_bench-style
// HTTP load, bench-bare serves the bare net/http ceiling, bench-handoff
// measures handoff between two processes, pg runs process-group verbs and
// their benchmark, lab replays concurrent histories under each sibling
// strategy, secret prints a new cluster secret and version prints the
// build.
package main
