package wire

import (
	"errors"
	"fmt"
)

// Protocol versions this release speaks. A connection uses the highest
// version both ends support; ends whose ranges do not overlap refuse each
// other. Raise ProtocolVersion when the frame layout or the meaning of an
// existing message changes; raise MinProtocolVersion when support for an
// old version is dropped.
const (
	ProtocolVersion    uint16 = 1
	MinProtocolVersion uint16 = 1
)

// MaxHelloSize bounds the handshake frame: a peer cannot make a node
// allocate more than this before it has identified itself.
const MaxHelloSize = 4 << 10

// Errors of the handshake.
var (
	// ErrVersion: the peer speaks no protocol version this node supports.
	ErrVersion = errors.New("riakgo/wire: unsupported protocol version")
	// ErrWrongCluster: the peer belongs to another cluster.
	ErrWrongCluster = errors.New("riakgo/wire: peer belongs to another cluster")
	// ErrAuth: the peer did not prove that it holds the cluster secret
	// (or this node could not prove it to the peer).
	ErrAuth = errors.New("riakgo/wire: cluster authentication failed")
)

// NonceSize is the size of the random challenge each side of an
// authenticated handshake sends.
const NonceSize = 32

// Hello is the body of MsgHello, the first frame each side of a connection
// sends. The dialer sends it as a request; the acceptor answers with its
// own Hello as a response, or with an error response (ErrorBody) saying why
// it refuses.
type Hello struct {
	// Version is the highest protocol version the sender speaks.
	Version uint16 `msgpack:"v"`
	// MinVersion is the lowest protocol version the sender speaks.
	MinVersion uint16 `msgpack:"min"`
	// Node is the sender's node name (ring.NodeID).
	Node string `msgpack:"node"`
	// Cluster is the sender's cluster name.
	Cluster string `msgpack:"cluster"`

	// The cluster-secret challenge (internal/transport/tcp, docs/security.md).
	// Nonce is the sender's fresh random challenge (NonceSize bytes).
	Nonce []byte `msgpack:"nonce,omitempty"`
	// KeyIDs (dialer) are the public identifiers of the secrets the
	// dialer holds, its primary first.
	KeyIDs [][]byte `msgpack:"kids,omitempty"`
	// KeyID (acceptor) names the secret both hold that the proofs use.
	KeyID []byte `msgpack:"kid,omitempty"`
	// Proof (acceptor) is the acceptor's HMAC over the handshake: it
	// answers the dialer's challenge.
	Proof []byte `msgpack:"proof,omitempty"`
}

// HelloAuth is the body of MsgHelloAuth: the dialer's answer to the
// acceptor's challenge, sent after the acceptor's Hello when the cluster
// has a secret. The acceptor acknowledges it with an empty MsgHelloAuth
// response, or refuses with an error response.
type HelloAuth struct {
	Proof []byte `msgpack:"proof"`
}

// NewHello returns the Hello this release sends for node in cluster.
func NewHello(node, cluster string) Hello {
	return Hello{Version: ProtocolVersion, MinVersion: MinProtocolVersion, Node: node, Cluster: cluster}
}

// CheckHello decides whether a node that sent local may talk to the peer
// that sent remote, and at which protocol version: the highest both speak.
// Errors wrap ErrVersion, ErrWrongCluster or ErrMalformed and say what each
// side offered.
func CheckHello(local, remote Hello) (uint16, error) {
	if remote.Node == "" || remote.MinVersion == 0 || remote.MinVersion > remote.Version ||
		(remote.Nonce != nil && len(remote.Nonce) != NonceSize) || len(remote.KeyIDs) > 16 {
		return 0, fmt.Errorf("%w: hello from %q offers versions %d..%d", ErrMalformed, remote.Node, remote.MinVersion, remote.Version)
	}
	if remote.Cluster != local.Cluster {
		return 0, fmt.Errorf("%w: %s is in cluster %q, this node in %q", ErrWrongCluster, remote.Node, remote.Cluster, local.Cluster)
	}
	v := min(local.Version, remote.Version)
	if v < local.MinVersion || v < remote.MinVersion {
		return 0, fmt.Errorf("%w: %s speaks versions %d..%d, this node %d..%d",
			ErrVersion, remote.Node, remote.MinVersion, remote.Version, local.MinVersion, local.Version)
	}
	return v, nil
}

// ErrorBody is the body of an error response (FlagResponse|FlagError).
type ErrorBody struct {
	// Code classifies the failure (the transport defines the codes; owners
	// of messages may define their own above the transport's range).
	Code uint16 `msgpack:"c"`
	// Message is the remote error's text.
	Message string `msgpack:"m"`
}
