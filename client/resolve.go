package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Resolver turns an object's siblings into the one value to keep. It
// receives at least two live (non-tombstone) siblings and must not modify
// the slice's elements in place. Any function with this signature can be
// used; LastWriteWins and Fold build common ones.
type Resolver func(siblings []Content) (Content, error)

// LastWriteWins keeps the sibling with the latest LastModified. Ties (HTTP
// times have one-second resolution) go to a live sibling over a tombstone,
// then to the greatest VTag, so that every client picks the same one.
func LastWriteWins(siblings []Content) (Content, error) {
	if len(siblings) == 0 {
		return Content{}, fmt.Errorf("%w: nothing to resolve", ErrInvalidArgument)
	}
	best := 0
	for i := 1; i < len(siblings); i++ {
		if newer(&siblings[i], &siblings[best]) {
			best = i
		}
	}
	return siblings[best], nil
}

func newer(a, b *Content) bool {
	if !a.LastModified.Equal(b.LastModified) {
		return a.LastModified.After(b.LastModified)
	}
	if a.Deleted != b.Deleted {
		return !a.Deleted
	}
	return a.VTag > b.VTag
}

// Fold returns a Resolver that merges the siblings pairwise, left to
// right, with merge. A merge that is commutative, associative and
// idempotent (a set union, a maximum) gives the same result whatever the
// order in which siblings arrive.
func Fold(merge func(a, b Content) (Content, error)) Resolver {
	return func(siblings []Content) (Content, error) {
		if len(siblings) == 0 {
			return Content{}, fmt.Errorf("%w: nothing to resolve", ErrInvalidArgument)
		}
		acc := siblings[0]
		for _, s := range siblings[1:] {
			var err error
			if acc, err = merge(acc, s); err != nil {
				return Content{}, err
			}
		}
		return acc, nil
	}
}

func (c *Client) resolverOr(r Resolver) Resolver {
	switch {
	case r != nil:
		return r
	case c.resolver != nil:
		return c.resolver
	}
	return LastWriteWins
}

// resolveSiblings reduces obj to at most one live sibling. Tombstone siblings are
// dropped while a live sibling exists (a concurrent write wins over a
// concurrent delete); an object holding only tombstones resolves to none.
func resolveSiblings(obj *Object, r Resolver) error {
	live := make([]Content, 0, len(obj.Siblings))
	for _, s := range obj.Siblings {
		if !s.Deleted {
			live = append(live, s)
		}
	}
	switch len(live) {
	case 0:
		obj.Siblings = nil
		return nil
	case 1:
		obj.Siblings = live
		return nil
	}
	res, err := r(live)
	if err != nil {
		return fmt.Errorf("riakgo/client: resolving %d siblings of %s: %w", len(live), obj.Loc, err)
	}
	obj.Siblings = []Content{res}
	return nil
}

// GetResolved fetches loc and resolves its siblings with resolve (the
// client's resolver, or LastWriteWins, if nil). The returned object has
// exactly one sibling and the VClock of the read, so putting its content
// back with that VClock replaces every sibling; GetResolved itself does
// not write. Tombstone siblings lose against live ones; an object whose
// siblings are all tombstones answers a *NotFoundError with its VClock.
func (c *Client) GetResolved(ctx context.Context, loc Loc, resolve Resolver, opts *GetOptions) (*Object, error) {
	obj, err := c.Get(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	if err := resolveSiblings(obj, c.resolverOr(resolve)); err != nil {
		return nil, err
	}
	if len(obj.Siblings) == 0 {
		return nil, &NotFoundError{Loc: loc, Deleted: true, VClock: obj.VClock}
	}
	return obj, nil
}

// Mutator computes the new value of an object from its current state.
// current.Siblings holds the resolved value, or nothing when the key is
// missing or deleted; current.VClock is the context the write will carry.
// Returning an error aborts the update with that error.
type Mutator func(current *Object) (Content, error)

// UpdateOptions tune Update.
type UpdateOptions struct {
	// Resolver resolves siblings (the client's resolver, or LastWriteWins,
	// if nil).
	Resolver Resolver
	// Get and Put tune the read and the write.
	Get *GetOptions
	Put *PutOptions
	// Conditional makes each write conditional on the read: If-Match with
	// the read's ETag, or If-None-Match: * when the key was missing. A
	// write that loses a race then answers 412 and is retried. (Riak
	// checks the condition with a read of its own, so two writers racing
	// within the same instant can both pass; siblings still catch that
	// case on allow_mult buckets.)
	Conditional bool
	// MaxAttempts bounds the read-modify-write rounds when writes answer
	// 412 (default DefaultMaxAttempts).
	MaxAttempts int
}

// DefaultMaxAttempts is Update's default bound on read-modify-write rounds.
const DefaultMaxAttempts = 5

// Update reads loc, resolves its siblings, calls mutate with the result
// and writes the returned Content back with the read's VClock, so that
// the write supersedes everything it read. A write answered with 412
// (a conditional write that lost a race, or a strongly consistent bucket
// refusing a stale write) is retried from the read, at most MaxAttempts
// times in all; mutate may therefore run more than once and should have no
// side effects. The result is the stored object when opts.Put.ReturnBody
// is set, nil otherwise.
func (c *Client) Update(ctx context.Context, loc Loc, mutate Mutator, opts *UpdateOptions) (*Object, error) {
	if err := loc.check(true); err != nil {
		return nil, err
	}
	if mutate == nil {
		return nil, fmt.Errorf("%w: Update needs a Mutator", ErrInvalidArgument)
	}
	var o UpdateOptions
	if opts != nil {
		o = *opts
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	r := c.resolverOr(o.Resolver)
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		cur, err := c.Get(ctx, loc, o.Get)
		var nf *NotFoundError
		switch {
		case errors.As(err, &nf):
			cur = &Object{Loc: loc, VClock: nf.VClock}
		case err != nil:
			return nil, err
		default:
			if err := resolveSiblings(cur, r); err != nil {
				return nil, err
			}
		}
		next, err := mutate(cur)
		if err != nil {
			return nil, err
		}
		var po PutOptions
		if o.Put != nil {
			po = *o.Put
		}
		if o.Conditional {
			if nf != nil || len(cur.Siblings) == 0 {
				po.IfNoneMatch, po.IfMatch = true, ""
			} else {
				po.IfNoneMatch, po.IfMatch = false, cur.ETag
			}
			po.IfUnmodifiedSince = time.Time{}
		}
		obj, err := c.Put(ctx, loc, next, cur.VClock, &po)
		if err == nil {
			return obj, nil
		}
		if !errors.Is(err, ErrPreconditionFailed) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("riakgo/client: update of %s gave up after %d attempts: %w", loc, attempts, lastErr)
}
