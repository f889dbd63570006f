package tcp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// NodeID is the transport's node name.
type NodeID = transport.NodeID

// Config configures a Transport. Zero fields take the defaults of
// DefaultConfig; Node and Resolve are required.
type Config struct {
	// Node is this node's name, sent in the handshake and given to the
	// peers' handlers as the sender.
	Node NodeID
	// Cluster is the cluster's name; peers with another name are refused
	// (default "riakgo").
	Cluster string
	// ListenAddr is the internode address to listen on, e.g.
	// "127.0.0.1:8099" (":0" picks a port; see Transport.Addr). Empty means
	// this transport only dials out and receives nothing.
	ListenAddr string
	// Resolve returns a peer's internode address. It is called on every
	// dial, from several goroutines at once.
	Resolve func(NodeID) (addr string, ok bool)
	// PoolSize is the number of connections kept to each peer (default 2).
	PoolSize int
	// MaxInflight bounds the calls waiting for a response on one outbound
	// connection (default 512).
	MaxInflight int
	// WriteQueue bounds the frames waiting to be written on one connection
	// (default 256).
	WriteQueue int
	// MaxHandlers bounds the handlers running for one inbound connection
	// (default 256).
	MaxHandlers int
	// DialTimeout bounds a TCP dial (default 2s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds the exchange of Hello frames (default 2s).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one write to a peer; a peer that does not read
	// for that long is disconnected (default 10s).
	WriteTimeout time.Duration
	// CallTimeout is the deadline of a call whose context has none
	// (default transport.DefaultCallTimeout).
	CallTimeout time.Duration
	// MaxFrameSize bounds the frames this node accepts (default and
	// maximum wire.MaxFrameSize).
	MaxFrameSize int
	// Secret, unless empty, is the cluster's secrets: every connection
	// starts with a challenge-response in which each side proves it holds
	// one of them (HMAC over both sides' random challenges, names and the
	// cluster name); a peer that cannot is refused before any message.
	// Transport.SetSecret replaces them (rotation).
	Secret secret.Set
	// ServerTLS and ClientTLS, if set, wrap every inbound and outbound
	// connection in TLS before the handshake (set both: the cluster's
	// mutual TLS, each node's certificate signed by the cluster CA).
	ServerTLS, ClientTLS *tls.Config
	// MaxHandshakes bounds the inbound connections in their handshake at
	// once (default 64); more are closed at once, so that unauthenticated
	// connections cannot take a node's file descriptors.
	MaxHandshakes int
	// Logger receives connection events (default: discard).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: cluster "riakgo", listening on
// 127.0.0.1:8099, two connections per peer. Node and Resolve must be set.
func DefaultConfig() Config {
	return Config{
		Cluster:          "riakgo",
		ListenAddr:       "127.0.0.1:8099",
		PoolSize:         2,
		MaxInflight:      512,
		WriteQueue:       256,
		MaxHandlers:      256,
		DialTimeout:      2 * time.Second,
		HandshakeTimeout: 2 * time.Second,
		WriteTimeout:     10 * time.Second,
		CallTimeout:      transport.DefaultCallTimeout,
		MaxFrameSize:     wire.MaxFrameSize,
		MaxHandshakes:    64,
	}
}

// Validate checks the configuration and says what is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.Node == "" {
		errs = append(errs, errors.New("Node is required"))
	}
	if c.Resolve == nil {
		errs = append(errs, errors.New("Resolve is required"))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"PoolSize", c.PoolSize}, {"MaxInflight", c.MaxInflight}, {"WriteQueue", c.WriteQueue}, {"MaxHandlers", c.MaxHandlers}, {"MaxFrameSize", c.MaxFrameSize}, {"MaxHandshakes", c.MaxHandshakes}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (got %d)", f.name, f.v))
		}
	}
	if c.PoolSize > 64 {
		errs = append(errs, fmt.Errorf("PoolSize must be at most 64 (got %d)", c.PoolSize))
	}
	if (c.ServerTLS == nil) != (c.ClientTLS == nil) {
		errs = append(errs, errors.New("ServerTLS and ClientTLS go together"))
	}
	if c.MaxFrameSize > wire.MaxFrameSize {
		errs = append(errs, fmt.Errorf("MaxFrameSize must be at most %d (got %d)", wire.MaxFrameSize, c.MaxFrameSize))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", c.DialTimeout}, {"HandshakeTimeout", c.HandshakeTimeout}, {"WriteTimeout", c.WriteTimeout}, {"CallTimeout", c.CallTimeout}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (got %v)", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("riakgo/transport/tcp: config: %w", err)
	}
	return nil
}

// withDefaults fills zero fields from DefaultConfig (ListenAddr stays as
// given: empty means no listener).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Cluster == "" {
		c.Cluster = d.Cluster
	}
	if c.PoolSize == 0 {
		c.PoolSize = d.PoolSize
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = d.MaxInflight
	}
	if c.WriteQueue == 0 {
		c.WriteQueue = d.WriteQueue
	}
	if c.MaxHandlers == 0 {
		c.MaxHandlers = d.MaxHandlers
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = d.HandshakeTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = d.CallTimeout
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = d.MaxFrameSize
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = d.MaxHandshakes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
