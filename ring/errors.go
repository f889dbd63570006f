package ring

import (
	"errors"
	"fmt"
)

// Errors of the cluster state. ErrBadSize is in ring.go.
var (
	// ErrClusterMismatch: the states belong to different clusters (gossip
	// from another cluster is ignored).
	ErrClusterMismatch = errors.New("riakgo/ring: different cluster")
	// ErrSizeMismatch: the states have different ring sizes or target_n
	// (riak-admin: "has a different ring_creation_size").
	ErrSizeMismatch = errors.New("riakgo/ring: different ring size or target_n")
	// ErrSenderUnknown: gossip from a node that is not a member.
	ErrSenderUnknown = errors.New("riakgo/ring: gossip from a non-member ignored")

	// ErrNotMember: the node is not a member (or has been removed).
	ErrNotMember = errors.New("riakgo/ring: not a member of the cluster")
	// ErrAlreadyMember: a join by a node that is already a member.
	ErrAlreadyMember = errors.New("riakgo/ring: already a member of the cluster")
	// ErrNotSingleNode: a join by a node that is itself in a cluster.
	ErrNotSingleNode = errors.New("riakgo/ring: this node is already a member of a cluster")
	// ErrOnlyMember: leaving or removing the only member.
	ErrOnlyMember = errors.New("riakgo/ring: the only member of the cluster")
	// ErrAlreadyLeaving: a leave for a node that is leaving or exiting.
	ErrAlreadyLeaving = errors.New("riakgo/ring: already leaving")
	// ErrIsClaimant: force-removing (or force-replacing) the claimant;
	// mark it down first.
	ErrIsClaimant = errors.New("riakgo/ring: cannot remove the claimant; mark it down first")
	// ErrNotJoining: a replacement that is not a joining node.
	ErrNotJoining = errors.New("riakgo/ring: the replacement must be a joining node")
	// ErrAlreadyReplacement: a node that already replaces another.
	ErrAlreadyReplacement = errors.New("riakgo/ring: the node is already a replacement")
	// ErrBadChange: a change that makes no sense (unknown action, a node
	// replacing itself, marking oneself down).
	ErrBadChange = errors.New("riakgo/ring: invalid cluster change")
	// ErrSelfJoin: a node asked to join itself (riak_core's self_join);
	// it is an ErrBadChange.
	ErrSelfJoin = fmt.Errorf("%w: this node cannot join itself", ErrBadChange)

	// ErrNothingPlanned: plan or commit with no staged changes and no
	// joining nodes.
	ErrNothingPlanned = errors.New("riakgo/ring: nothing planned")
	// ErrNotReady: the ring has not converged (some member has not seen
	// the current ring); plan and commit wait for it.
	ErrNotReady = errors.New("riakgo/ring: ring not ready")
	// ErrNotClaimant: commit on a node that is not the claimant.
	ErrNotClaimant = errors.New("riakgo/ring: not the claimant")
	// ErrPlanChanged: the plan computed at commit differs from the one the
	// operator saw.
	ErrPlanChanged = errors.New("riakgo/ring: plan changed")

	// ErrNoTransfer: no pending transfer of that partition from this node.
	ErrNoTransfer = errors.New("riakgo/ring: no such pending transfer")

	// ErrMalformed: bytes that are not a state produced by MarshalBinary.
	ErrMalformed = errors.New("riakgo/ring: malformed cluster state encoding")
	// ErrZeroState: an operation on the zero State.
	ErrZeroState = errors.New("riakgo/ring: zero cluster state")
)
