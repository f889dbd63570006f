package memberlist

import "errors"

// ErrConfig: the configuration is invalid; the error says what is wrong.
var ErrConfig = errors.New("riakgo/membership/memberlist: invalid config")

// ErrNoKeyring: SetKeys on a node started without gossip keys (turning
// encryption on needs a restart of every node).
var ErrNoKeyring = errors.New("riakgo/membership/memberlist: gossip encryption is off on this node (started without keys)")
