package kv

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// A data-type write is coordinated by a vnode of the key, which may live
// on another node than the one the client reached. What travels there is
// data, never a Go function: an Update names a registered kind and carries
// its encoded body; the coordinating node turns it into the Mutation that
// runs under the key's lock with its vnode's actor. The local path takes
// the same route (encode, decode, run), so a write behaves the same
// whichever node coordinates it.

// Update is a data-type write as data.
type Update struct {
	// Kind names the registered decoder ("dt" for data-type operations;
	// kv/pg's "pg" for process-group syncs).
	Kind string `msgpack:"k"`
	// Body is the kind's encoding of the operation.
	Body []byte `msgpack:"b"`
	// local, if set, is the mutation the body decodes to, for a
	// coordinator on this node; it never crosses the wire.
	local Mutation
}

// NewUpdate returns the update of kind with body. local, if non-nil, is
// the Mutation body decodes to, run as it is when this node coordinates
// the write (it may carry what the decoded form cannot: the caller's
// context, counters); a coordinator elsewhere decodes body.
func NewUpdate(kind string, body []byte, local Mutation) *Update {
	return &Update{Kind: kind, Body: body, local: local}
}

// UpdateDecoder turns an Update's body into the Mutation to run at the
// coordinating vnode. It must be safe for concurrent use.
type UpdateDecoder func(body []byte) (Mutation, error)

// updateRegistry holds the decoders by kind.
type updateRegistry struct {
	mu   sync.RWMutex
	decs map[string]UpdateDecoder
}

// RegisterUpdate installs the decoder of an update kind (replacing any
// earlier one). Register before the kind is used: a node that receives an
// update of a kind it does not know refuses it.
func (s *Service) RegisterUpdate(kind string, dec UpdateDecoder) {
	s.updates.mu.Lock()
	defer s.updates.mu.Unlock()
	if s.updates.decs == nil {
		s.updates.decs = map[string]UpdateDecoder{}
	}
	s.updates.decs[kind] = dec
}

// mutation decodes u with its registered decoder (or returns its local
// form).
func (s *Service) mutation(u *Update) (Mutation, error) {
	if u.local != nil {
		return u.local, nil
	}
	s.updates.mu.RLock()
	dec := s.updates.decs[u.Kind]
	s.updates.mu.RUnlock()
	if dec == nil {
		return nil, fmt.Errorf("%w: no decoder for updates of kind %q", ErrBadUpdate, u.Kind)
	}
	m, err := dec(u.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadUpdate, u.Kind, err)
	}
	return m, nil
}

// updateKindDatatype is the kind of data-type operations (kv/pg
// registers "pg" for process-group syncs).
const updateKindDatatype = "dt"

// encodeDatatypeUpdate is the body of a data-type operation: the type's
// tag, the bucket's hll_precision (an HLL is made and kept at it), the
// client's context (length-prefixed) and the operation.
func encodeDatatypeUpdate(kind dt.Kind, op dt.Op, dctx dt.Context, hllPrecision int) (*Update, error) {
	ob, err := dt.MarshalOp(op)
	if err != nil {
		return nil, err
	}
	cb := dctx.Bytes()
	b := make([]byte, 0, 2+binary.MaxVarintLen64+len(cb)+len(ob))
	b = append(b, byte(kind), byte(hllPrecision))
	b = binary.AppendUvarint(b, uint64(len(cb)))
	b = append(b, cb...)
	b = append(b, ob...)
	return &Update{Kind: updateKindDatatype, Body: b}, nil
}

// decodeDatatypeUpdate is the UpdateDecoder of data-type operations.
func decodeDatatypeUpdate(b []byte) (Mutation, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("truncated data-type update")
	}
	kind := dt.Kind(b[0])
	if !kind.Valid() {
		return nil, fmt.Errorf("unknown data type %d", b[0])
	}
	props := Props{HLLPrecision: int(b[1])}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || n > uint64(len(b)-2-k) {
		return nil, fmt.Errorf("bad context length")
	}
	rest := b[2+k:]
	dctx, err := dt.ParseContext(rest[:n])
	if err != nil {
		return nil, err
	}
	op, err := dt.UnmarshalOp(rest[n:])
	if err != nil {
		return nil, err
	}
	return datatypeMutation(kind, op, dctx, props), nil
}

// datatypeMutation applies op to the merge of the local siblings (a new
// value, or one brought in line with the bucket's props, when there is
// none).
func datatypeMutation(kind dt.Kind, op dt.Op, dctx dt.Context, props Props) Mutation {
	return func(local *siblings.Object, actor vclock.Actor) (siblings.Sibling, error) {
		cur, err := MergeDatatype(kind, local)
		if err != nil {
			return siblings.Sibling{}, err
		}
		if cur == nil {
			if cur, err = newCRDT(kind, props); err != nil {
				return siblings.Sibling{}, err
			}
		} else if err := applyProps(cur, props); err != nil {
			return siblings.Sibling{}, err
		}
		if err := cur.ApplyOp(op, actor, dctx); err != nil {
			return siblings.Sibling{}, err
		}
		b, err := cur.MarshalBinary()
		if err != nil {
			return siblings.Sibling{}, err
		}
		return siblings.Sibling{Value: b, Meta: siblings.Meta{ContentType: DatatypeContentType(kind)}}, nil
	}
}
