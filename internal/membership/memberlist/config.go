package memberlist

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	hml "github.com/hashicorp/memberlist"

	"github.com/riakgo/riakgo/internal/membership"
)

// NodeID names a node.
type NodeID = membership.NodeID

// Config configures a Memberlist. Zero fields take the defaults of
// DefaultConfig, except Name, which is required, and DeadNodeReclaimTime,
// whose zero means "never".
type Config struct {
	// Name is the node's name; it must be unique in the cluster.
	Name NodeID
	// BindAddr is the gossip address to listen on, UDP and TCP, as
	// "IP:port" (port 0 picks a free port; see Memberlist.Local). The
	// default is 127.0.0.1:7946.
	BindAddr string
	// AdvertiseAddr is the gossip address other nodes use to reach this
	// one, "IP:port", when it differs from BindAddr (NAT, or a bind to
	// 0.0.0.0). Empty means the bound address.
	AdvertiseAddr string
	// Meta is the node's initial meta. A zero Incarnation is replaced by
	// a fresh one (membership.NewIncarnation). The encoding must fit in
	// membership.MetaMaxSize.
	Meta membership.Meta
	// Label, if set, is put on every packet and stream; nodes with
	// another label are ignored. A cluster name keeps two clusters on one
	// network apart. At most 255 bytes.
	Label string
	// SecretKeys, if set, encrypt and authenticate every gossip packet
	// and stream (memberlist's keyring: AES-GCM, the Label as
	// authenticated data); the first key encrypts, all of them decrypt, so
	// a key can be rotated without downtime (Memberlist.SetKeys). Each key
	// is 16, 24 or 32 bytes. Packets that do not decrypt are dropped: a
	// node without a key learns nothing and joins nothing.
	SecretKeys [][]byte
	// Logger receives memberlist's log lines and the adapter's own
	// (default: discard).
	Logger *slog.Logger

	// ProbeInterval is the time between failure-detection probes of a
	// random member (default 500ms).
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before trying
	// indirect probes (default 250ms).
	ProbeTimeout time.Duration
	// IndirectChecks is how many members are asked to probe a member that
	// did not answer (default 3).
	IndirectChecks int
	// SuspicionMult scales how long a suspect member has to refute before
	// it is declared dead: SuspicionMult·max(1, log10(N))·ProbeInterval
	// (default 4: 2s for a small cluster).
	SuspicionMult int
	// SuspicionMaxTimeoutMult bounds the suspicion time when too few
	// members confirm it, as a multiple of the suspicion time (default 6).
	SuspicionMaxTimeoutMult int
	// GossipInterval is the time between gossip rounds that carry
	// broadcasts (default 200ms).
	GossipInterval time.Duration
	// GossipNodes is how many random members each gossip round reaches
	// (default 3).
	GossipNodes int
	// GossipToTheDeadTime is how long gossip still goes to a dead member,
	// giving it a chance to refute (default 30s).
	GossipToTheDeadTime time.Duration
	// RetransmitMult scales how many times a broadcast is retransmitted:
	// RetransmitMult·log(N+1) (default 4).
	RetransmitMult int
	// PushPullInterval is the time between full state exchanges with a
	// random member, which carry the StateHandler's state (default 10s,
	// riak_core's idle gossip period).
	PushPullInterval time.Duration
	// StreamTimeout bounds a stream connection (push/pull, join, reliable
	// sends) and each read and write on it (default 5s).
	StreamTimeout time.Duration
	// DeadNodeReclaimTime, if non-zero, lets a node reuse the name of a
	// member dead for that long from another address (a node restarted on
	// a new gossip port). Zero never allows it.
	DeadNodeReclaimTime time.Duration
	// EventBuffer is the capacity of the Events channel (default 256).
	EventBuffer int

	// transport replaces memberlist's UDP/TCP transport (tests).
	transport hml.Transport
}

// DefaultConfig returns timings for a local network: memberlist's LAN
// profile with faster failure detection (probe every 500ms, suspicion
// multiplier 4: a dead node of a small cluster is declared failed in about
// 2.5s), listening on 127.0.0.1:7946. Name must be set.
func DefaultConfig() Config {
	return Config{
		BindAddr:                "127.0.0.1:7946",
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		IndirectChecks:          3,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 6,
		GossipInterval:          200 * time.Millisecond,
		GossipNodes:             3,
		GossipToTheDeadTime:     30 * time.Second,
		RetransmitMult:          4,
		PushPullInterval:        10 * time.Second,
		StreamTimeout:           5 * time.Second,
		EventBuffer:             256,
	}
}

// DefaultLocalConfig returns fast timings for tests on one machine: probe
// every 200ms, suspicion multiplier 3, gossip every 20ms, push/pull every
// second, on 127.0.0.1 with a free port. Name must be set.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.BindAddr = "127.0.0.1:0"
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.IndirectChecks = 1
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 4
	c.GossipInterval = 20 * time.Millisecond
	c.GossipToTheDeadTime = 2 * time.Second
	c.RetransmitMult = 3
	c.PushPullInterval = time.Second
	c.StreamTimeout = 2 * time.Second
	return c
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BindAddr == "" {
		c.BindAddr = d.BindAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.ProbeInterval, d.ProbeInterval}, {&c.ProbeTimeout, d.ProbeTimeout},
		{&c.GossipInterval, d.GossipInterval}, {&c.GossipToTheDeadTime, d.GossipToTheDeadTime},
		{&c.PushPullInterval, d.PushPullInterval}, {&c.StreamTimeout, d.StreamTimeout},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&c.IndirectChecks, d.IndirectChecks}, {&c.SuspicionMult, d.SuspicionMult},
		{&c.SuspicionMaxTimeoutMult, d.SuspicionMaxTimeoutMult}, {&c.GossipNodes, d.GossipNodes},
		{&c.RetransmitMult, d.RetransmitMult}, {&c.EventBuffer, d.EventBuffer},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return c
}

// Validate checks the configuration (after defaults are applied, as New
// does) and says what is wrong. Errors wrap ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("Name is required"))
	}
	if _, _, err := splitIPPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("BindAddr: %w", err))
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitIPPort(c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("AdvertiseAddr: %w", err))
		}
	}
	for i, k := range c.SecretKeys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			errs = append(errs, fmt.Errorf("SecretKeys[%d] is %d bytes; keys are 16, 24 or 32 bytes", i, n))
		}
	}
	if len(c.Label) > hml.LabelMaxSize {
		errs = append(errs, fmt.Errorf("Label is %d bytes, the limit is %d", len(c.Label), hml.LabelMaxSize))
	}
	if _, err := membership.EncodeMeta(c.Meta); err != nil {
		errs = append(errs, fmt.Errorf("Meta: %w", err))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"ProbeInterval", c.ProbeInterval}, {"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval}, {"GossipToTheDeadTime", c.GossipToTheDeadTime},
		{"PushPullInterval", c.PushPullInterval}, {"StreamTimeout", c.StreamTimeout},
		{"DeadNodeReclaimTime", c.DeadNodeReclaimTime},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (got %v)", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"IndirectChecks", c.IndirectChecks}, {"SuspicionMult", c.SuspicionMult},
		{"SuspicionMaxTimeoutMult", c.SuspicionMaxTimeoutMult}, {"GossipNodes", c.GossipNodes},
		{"RetransmitMult", c.RetransmitMult}, {"EventBuffer", c.EventBuffer},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (got %d)", f.name, f.v))
		}
	}
	if c.ProbeTimeout > c.ProbeInterval {
		errs = append(errs, fmt.Errorf("ProbeTimeout (%v) must not exceed ProbeInterval (%v)", c.ProbeTimeout, c.ProbeInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// splitIPPort parses "IP:port"; memberlist binds and advertises IP
// addresses, not host names.
func splitIPPort(addr string) (net.IP, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("%q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, fmt.Errorf("%q: host must be an IP address, e.g. 127.0.0.1:7946", addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("%q: bad port: %w", addr, err)
	}
	return ip, int(port), nil
}

// memberlistConfig translates c (defaults applied, valid) for memberlist.
func (c Config) memberlistConfig(d *delegate, kr *hml.Keyring) *hml.Config {
	mc := hml.DefaultLANConfig()
	mc.Name = string(c.Name)
	ip, port, _ := splitIPPort(c.BindAddr)
	mc.BindAddr, mc.BindPort = ip.String(), port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if c.AdvertiseAddr != "" {
		aip, aport, _ := splitIPPort(c.AdvertiseAddr)
		mc.AdvertiseAddr, mc.AdvertisePort = aip.String(), aport
	}
	mc.Label = c.Label
	if kr != nil {
		mc.Keyring = kr
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.IndirectChecks = c.IndirectChecks
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = c.SuspicionMaxTimeoutMult
	mc.GossipInterval = c.GossipInterval
	mc.GossipNodes = c.GossipNodes
	mc.GossipToTheDeadTime = c.GossipToTheDeadTime
	mc.RetransmitMult = c.RetransmitMult
	mc.PushPullInterval = c.PushPullInterval
	mc.TCPTimeout = c.StreamTimeout
	mc.DeadNodeReclaimTime = c.DeadNodeReclaimTime
	mc.UDPBufferSize = udpBufferSize
	mc.Delegate = d
	mc.Events = d
	mc.Logger = newStdLogger(c.Logger.With("node", string(c.Name)))
	mc.LogOutput = nil
	if c.transport != nil {
		mc.Transport = c.transport
	}
	return mc
}
