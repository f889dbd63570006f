package membership

import "errors"

// Errors of membership implementations. Implementations wrap them with %w.
var (
	// ErrMetaTooLarge: the encoded Meta exceeds MetaMaxSize, memberlist's
	// limit for node metadata.
	ErrMetaTooLarge = errors.New("riakgo/membership: node meta too large")
	// ErrBadMeta: node metadata could not be decoded.
	ErrBadMeta = errors.New("riakgo/membership: malformed node meta")
	// ErrShutdown: the membership has been shut down.
	ErrShutdown = errors.New("riakgo/membership: shut down")
	// ErrLeft: the local node has left the cluster; it can no longer
	// join or broadcast (shut it down and start a new one).
	ErrLeft = errors.New("riakgo/membership: node has left")
	// ErrJoin: none of the seeds could be reached.
	ErrJoin = errors.New("riakgo/membership: could not join any seed")
)
