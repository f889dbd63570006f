package kv

import (
	"errors"

	"github.com/riakgo/riakgo/internal/metadata"
)

// Errors returned by the service. Quorum failures are *quorum.Error and
// object limits are siblings.TooManySiblingsError / TooLargeError.
var (
	// ErrNotFound: no such object (or only a tombstone; see GetResult).
	ErrNotFound = errors.New("riakgo/kv: not found")
	// ErrUnknownType: the bucket type does not exist or is not active.
	ErrUnknownType = errors.New("riakgo/kv: unknown bucket type")
	// ErrBadKey: an empty bucket or key, or one over the size limit.
	ErrBadKey = errors.New("riakgo/kv: invalid bucket or key")
	// ErrBadProps: a bucket property failed validation; see *PropsError.
	ErrBadProps = errors.New("riakgo/kv: invalid bucket properties")
	// ErrClosed: the service has been stopped.
	ErrClosed = errors.New("riakgo/kv: service closed")
	// ErrRingSize: SetRing with a ring of another size (or none).
	ErrRingSize = errors.New("riakgo/kv: the ring size cannot change")
	// ErrOverload: the node is at a capacity limit and refuses one more
	// (HTTP 503): the client faces' bound on requests in flight, kv/pg's
	// bound on watch streams.
	ErrOverload = errors.New("riakgo/kv: overload")
	// ErrDetached: the node has left its cluster and serves nothing until
	// it joins one (see Service.SetDetached).
	ErrDetached = errors.New("riakgo/kv: this node has left its cluster")
	// ErrBadUpdate: a data-type update whose encoding a coordinator could
	// not read (an unknown kind, a malformed body).
	ErrBadUpdate = errors.New("riakgo/kv: malformed update")
	// ErrUnconfirmed: a bucket type or property change is stored, but
	// some member that is up did not confirm it in time; it reaches them
	// by anti-entropy.
	ErrUnconfirmed = metadata.ErrUnconfirmed
)
