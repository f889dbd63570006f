package kv

import (
	"context"
	"errors"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/siblings"
)

// Data-type objects are ordinary objects whose value is the binary
// encoding of a dt.CRDT. An update is applied at the coordinating vnode
// with its actor (a Mutation): it merges the local siblings' states,
// applies the operation and stores one value. Replicas merge objects as
// usual; concurrent updates coordinated by different vnodes become
// siblings, which every read merges with the type's merge, so no update is
// lost and clients never see siblings.

// ErrNotDatatype: a data-type operation on an object that holds something
// else (or the reverse).
var ErrNotDatatype = errors.New("riakgo/kv: the object is not of the bucket's data type")

// DatatypeContentType returns the content type stored with a data type's
// objects (Riak's application/riak_counter, riak_set, riak_map, riak_hll).
func DatatypeContentType(k dt.Kind) string {
	switch k {
	case dt.KindCounter:
		return "application/riak_counter"
	case dt.KindSet:
		return "application/riak_set"
	case dt.KindMap:
		return "application/riak_map"
	case dt.KindHLL:
		return "application/riak_hll"
	case dt.KindGSet:
		return "application/riak_gset"
	}
	return "application/riak_" + k.String()
}

// MergeDatatype merges every live sibling of o into one value of kind k
// (nil if o holds none); a sibling of another kind is ErrNotDatatype.
func MergeDatatype(k dt.Kind, o *siblings.Object) (dt.CRDT, error) {
	if o == nil {
		return nil, nil
	}
	var out dt.CRDT
	for i := range o.Siblings {
		s := &o.Siblings[i]
		if s.Meta.Deleted {
			continue
		}
		v, err := dt.Unmarshal(s.Value)
		if err != nil || v.Kind() != k {
			return nil, UserErrorf(ErrNotDatatype, "%s holds %q", k, s.Meta.ContentType)
		}
		if out == nil {
			out = v
		} else if err := out.Merge(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newCRDT returns an empty value of kind k for a bucket with props p: an
// HLL at the bucket's hll_precision.
func newCRDT(k dt.Kind, p Props) (dt.CRDT, error) {
	if k == dt.KindHLL {
		return dt.NewHLL(p.hllPrecision())
	}
	return dt.New(k)
}

// applyProps brings v in line with the bucket's props: an HLL sketch finer
// than hll_precision is reduced to it (riak_kv_crdt:maybe_apply_props), so
// lowering a type's precision shrinks its sketches as they are read and
// updated.
func applyProps(v dt.CRDT, p Props) error {
	if h, ok := v.(*dt.HLL); ok && h.Precision() > p.hllPrecision() {
		return h.Reduce(p.hllPrecision())
	}
	return nil
}

// FetchDatatype reads a data-type object and merges its siblings. It
// returns ErrNotFound if there is none (or only a tombstone).
func (s *Service) FetchDatatype(ctx context.Context, k Key, kind dt.Kind, o Options) (dt.CRDT, error) {
	obj, err := s.Get(ctx, k, o)
	if err != nil {
		return nil, err
	}
	v, err := MergeDatatype(kind, obj)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, ErrNotFound
	}
	if kind == dt.KindHLL {
		props, err := s.buckets.props(k.Type, k.Bucket)
		if err != nil {
			return nil, err
		}
		if err := applyProps(v, props); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// UpdateDatatype applies op to a data-type object at a coordinating vnode
// and returns the resulting value (merged across the replicas that
// answered, when o.ReturnBody is set; otherwise the coordinator's).
// dctx is the causal context the client read (zero for none); removes
// need it.
func (s *Service) UpdateDatatype(ctx context.Context, k Key, kind dt.Kind, op dt.Op, dctx dt.Context, o Options) (dt.CRDT, error) {
	if err := validateKey(k); err != nil {
		return nil, err
	}
	if err := s.refuse(); err != nil {
		return nil, err
	}
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return nil, err
	}
	u, err := encodeDatatypeUpdate(kind, op, dctx, props.hllPrecision())
	if err != nil {
		return nil, err
	}
	obj, err := s.write(k, props, nil, siblings.Meta{}, nil, u, o)
	if err != nil {
		return nil, err
	}
	return MergeDatatype(kind, obj)
}
