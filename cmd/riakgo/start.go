package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/riakgo/riakgo/internal/node"
)

// startSettings lists every setting of riakgo start: its flag, its
// RIAKGO_* environment variable and its config-file key are derived from
// the name.
var startSettings = []struct{ name, help string }{
	{"name", "node name"},
	{"data-dir", "data directory"},
	{"http", "HTTP API listen address"},
	{"pb", "Protocol Buffers API listen address (off to turn it off)"},
	{"cluster", "internode TCP address (port 0 picks one)"},
	{"gossip", "gossip (memberlist) address, IP:port (port 0 picks one)"},
	{"ring-size", "number of partitions, a power of two; fixed when the data directory is created"},
	{"delete-mode", "tombstone reaping: keep, immediate, or milliseconds"},
	{"log-level", "debug, info, warn or error"},
	{"memory", "memory budget (e.g. 4GiB) the caches and memtables are sized from; auto: 50% of the machine's memory"},
	{"block-cache", "Pebble block cache in MiB (auto: 20% of the memory budget)"},
	{"object-cache", "object cache in MiB, both tiers (an eighth decoded, the rest encoded), 0 disables it (auto: 40% of the memory budget)"},
	{"pprof", "serve Go's net/http/pprof profiles on this address (off when empty)"},
	{"handoff-concurrency", "transfers (inbound and outbound together) at once: handoff_concurrency"},
	{"aae-interval", "period of anti-entropy exchanges (a Go duration, e.g. 15s)"},
	{"handoff-stall-timeout", "a transfer with no progress this long fails and frees its slots (a Go duration)"},
	{"repair-on-recover", "on: a node that rejoins after losing its data directory repairs its partitions by transfer; off: anti-entropy alone"},
	{"cluster-name", "the cluster's name: peers of another name are refused, gossip carries it as its label"},
	{"cluster-secret-file", "file of the cluster secret(s) every member proves on the internode and gossip ports (mode 0600; riakgo secret makes one)"},
	{"insecure-cluster", "true: let the internode and gossip ports listen beyond loopback without a cluster secret"},
	{"tls-cert", "PEM certificate of this node (HTTPS, PB STARTTLS, internode TLS); reread on SIGHUP"},
	{"tls-key", "PEM private key of tls-cert; reread on SIGHUP"},
	{"tls-ca", "PEM CA certificates that sign client certificates and (internode-tls) every member; reread on SIGHUP"},
	{"https", "HTTPS API listen address (off when empty; needs tls-cert and tls-key)"},
	{"internode-tls", "true: mutual TLS on internode connections (needs tls-cert, tls-key, tls-ca)"},
	{"admin-open", "true: admin routes answer callers on other machines while security is off"},
	{"referer-check", "false: turn off Riak's cross-site Referer/Origin check (secure_referer_check)"},
	{"recompute-sums", "true: recompute every stored object's sum before serving (needed once after an earlier version ran on this data directory)"},
}

func envName(setting string) string {
	return "RIAKGO_" + strings.ToUpper(strings.ReplaceAll(setting, "-", "_"))
}

// readConfigFile parses a riak.conf-style file: "key = value" lines, # for
// comments; keys are setting names with - or _.
func readConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	known := map[string]bool{}
	for _, s := range startSettings {
		known[s.name] = true
	}
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected key = value", path, line)
		}
		k = strings.ReplaceAll(strings.TrimSpace(k), "_", "-")
		if !known[k] {
			return nil, fmt.Errorf("%s:%d: unknown setting %q", path, line, k)
		}
		out[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out, sc.Err()
}

func runStart(args []string, stdout, stderr io.Writer) int {
	cfg := node.DefaultConfig()
	defaults := map[string]string{
		"name": cfg.Name, "data-dir": cfg.DataDir, "http": cfg.HTTP, "pb": cfg.PB, "cluster": cfg.Cluster,
		"gossip": cfg.Gossip, "ring-size": strconv.Itoa(cfg.RingSize), "delete-mode": cfg.DeleteMode,
		"log-level": "info", "pprof": "",
		"memory": "auto", "block-cache": "auto", "object-cache": "auto",
		"handoff-concurrency": strconv.Itoa(cfg.HandoffConcurrency), "aae-interval": "15s",
		"handoff-stall-timeout": cfg.HandoffStallTimeout.String(), "repair-on-recover": "on",
		"cluster-name": cfg.ClusterName, "cluster-secret-file": "", "insecure-cluster": "false",
		"tls-cert": "", "tls-key": "", "tls-ca": "", "https": "", "internode-tls": "false",
		"admin-open": "false", "referer-check": "true", "recompute-sums": "false",
	}
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("RIAKGO_CONFIG"), "optional config file of key = value lines (env RIAKGO_CONFIG)")
	vals := map[string]*string{}
	for _, s := range startSettings {
		vals[s.name] = fs.String(s.name, "", fmt.Sprintf("%s (default %q, env %s)", s.help, defaults[s.name], envName(s.name)))
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: riakgo start [flags]\n\nPrecedence: flags, then RIAKGO_* environment variables, then --config file, then defaults.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "riakgo start: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	file := map[string]string{}
	if *configPath != "" {
		var err error
		if file, err = readConfigFile(*configPath); err != nil {
			fmt.Fprintf(stderr, "riakgo start: config file: %v\n", err)
			return 2
		}
	}
	get := func(name string) string {
		if v := *vals[name]; v != "" {
			return v
		}
		if v, ok := os.LookupEnv(envName(name)); ok && v != "" {
			return v
		}
		if v, ok := file[name]; ok {
			return v
		}
		return defaults[name]
	}
	cfg.Name, cfg.DataDir, cfg.HTTP = get("name"), get("data-dir"), get("http")
	if cfg.PB = get("pb"); cfg.PB == "off" {
		cfg.PB = ""
	}
	cfg.Cluster, cfg.Gossip, cfg.DeleteMode = get("cluster"), get("gossip"), get("delete-mode")
	rs, err := strconv.Atoi(get("ring-size"))
	if err != nil {
		fmt.Fprintf(stderr, "riakgo start: ring-size %q is not a number\n", get("ring-size"))
		return 2
	}
	cfg.RingSize = rs
	cfg.Version = Version
	if v := get("memory"); v != "auto" {
		if cfg.Memory, err = node.ParseBytes(v); err != nil || cfg.Memory == 0 {
			fmt.Fprintf(stderr, "riakgo start: memory %q: use a size such as 4GiB, or auto\n", v)
			return 2
		}
	}
	for _, c := range []struct {
		name string
		dst  *int
		auto int
	}{{"block-cache", &cfg.BlockCacheMiB, 0}, {"object-cache", &cfg.ObjectCacheMiB, -1}} {
		if get(c.name) == "auto" {
			*c.dst = c.auto
			continue
		}
		n, err := strconv.Atoi(get(c.name))
		if err != nil {
			fmt.Fprintf(stderr, "riakgo start: %s %q is not a number of MiB\n", c.name, get(c.name))
			return 2
		}
		*c.dst = n
	}
	hc, err := strconv.Atoi(get("handoff-concurrency"))
	if err != nil {
		fmt.Fprintf(stderr, "riakgo start: handoff-concurrency %q is not a number\n", get("handoff-concurrency"))
		return 2
	}
	cfg.HandoffConcurrency = hc
	if cfg.AAEInterval, err = time.ParseDuration(get("aae-interval")); err != nil || cfg.AAEInterval <= 0 {
		fmt.Fprintf(stderr, "riakgo start: aae-interval %q: use a positive Go duration such as 15s\n", get("aae-interval"))
		return 2
	}
	if cfg.HandoffStallTimeout, err = time.ParseDuration(get("handoff-stall-timeout")); err != nil || cfg.HandoffStallTimeout <= 0 {
		fmt.Fprintf(stderr, "riakgo start: handoff-stall-timeout %q: use a positive Go duration such as 10s\n", get("handoff-stall-timeout"))
		return 2
	}
	switch get("repair-on-recover") {
	case "on":
	case "off":
		cfg.NoRepairOnRecover = true
	default:
		fmt.Fprintf(stderr, "riakgo start: repair-on-recover %q: use on or off\n", get("repair-on-recover"))
		return 2
	}
	cfg.ClusterName, cfg.SecretFile = get("cluster-name"), get("cluster-secret-file")
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA, cfg.HTTPS = get("tls-cert"), get("tls-key"), get("tls-ca"), get("https")
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"insecure-cluster", &cfg.InsecureCluster}, {"internode-tls", &cfg.InternodeTLS}, {"admin-open", &cfg.AdminOpen}, {"recompute-sums", &cfg.RecomputeSums}} {
		v, err := strconv.ParseBool(get(b.name))
		if err != nil {
			fmt.Fprintf(stderr, "riakgo start: %s %q: use true or false\n", b.name, get(b.name))
			return 2
		}
		*b.dst = v
	}
	refererCheck, err := strconv.ParseBool(get("referer-check"))
	if err != nil {
		fmt.Fprintf(stderr, "riakgo start: referer-check %q: use true or false\n", get("referer-check"))
		return 2
	}
	cfg.NoRefererCheck = !refererCheck
	var level slog.Level
	if err := level.UnmarshalText([]byte(get("log-level"))); err != nil {
		fmt.Fprintf(stderr, "riakgo start: log-level %q: use debug, info, warn or error\n", get("log-level"))
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "riakgo start: invalid configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	// Catch signals before announcing the node, so that a SIGTERM sent as
	// soon as it answers still shuts it down cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if addr := get("pprof"); addr != "" {
		if err := servePprof(addr, cfg.Logger); err != nil {
			fmt.Fprintf(stderr, "riakgo start: pprof: %v\n", err)
			return 2
		}
	}
	if limitMallocArenas() {
		cfg.Logger.Debug("C heap limited to one malloc arena")
	}
	n, err := node.Start(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "riakgo start: %v\n", err)
		return 1
	}
	pbAddr := "off"
	if a := n.PBAddr(); a != "" {
		pbAddr = a
	}
	httpsAddr := "off"
	if a := n.HTTPSAddr(); a != "" {
		httpsAddr = a
	}
	fmt.Fprintf(stdout, "riakgo %s listening on http://%s (data in %s; https %s, pb %s, gossip %s, internode %s)\n", Version, n.HTTPAddr(), cfg.DataDir,
		httpsAddr, pbAddr, n.GossipAddr(), n.ClusterAddr())
wait:
	for {
		select {
		case <-hup:
			_ = n.Reload() // logs what failed; the node keeps its old secrets and certificates
		case s := <-sig:
			cfg.Logger.Info("shutting down", "signal", s.String())
			break wait
		case err := <-n.Done():
			cfg.Logger.Error("http server stopped", "err", err)
			break wait
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		fmt.Fprintf(stderr, "riakgo start: shutdown: %v\n", err)
		return 1
	}
	return 0
}
