package kv

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/siblings"
)

// Errors a vnode on another node returns travel as a transport.RemoteError
// with a code, and come back on the coordinator as the same typed error a
// local vnode would have returned, so the API faces map them alike. A
// structured error carries its fields as JSON in the message; a sentinel
// carries its text. Codes are part of the protocol: append only.
const (
	codeTooManySiblings = transport.CodeApp + 1  // JSON remoteLimit
	codeTooLarge        = transport.CodeApp + 2  // JSON remoteLimit
	codePrecondition    = transport.CodeApp + 3  // JSON remotePrecondition
	codeRights          = transport.CodeApp + 4  // JSON dt.InsufficientRightsError
	codeInvalidOp       = transport.CodeApp + 5  // text
	codeTypeMismatch    = transport.CodeApp + 6  // text
	codeNotDatatype     = transport.CodeApp + 7  // text
	codeOverflow        = transport.CodeApp + 8  // text
	codeTooManyDeferred = transport.CodeApp + 9  // text
	codeBadUpdate       = transport.CodeApp + 10 // text
	codeUnknownType     = transport.CodeApp + 11 // text
	codeBadKey          = transport.CodeApp + 12 // text

	// CodeApp+40..+42 and +44 are kv/pg's (it registers them with
	// RegisterError); +43 is an unknown bucket type as pg syncs reported
	// it (kept for older peers; the same as codeUnknownType).
	codePGNoType = transport.CodeApp + 43 // text
)

type remoteLimit struct {
	N   int `json:"n"`
	Max int `json:"max"`
}

type remotePrecondition struct {
	Path    []dt.Field `json:"path,omitempty"`
	Element string     `json:"element"`
}

// sentinelCodes maps the sentinels that cross the wire as text.
var sentinelCodes = []struct {
	code transport.Code
	err  error
}{
	{codeInvalidOp, dt.ErrInvalidOp},
	{codeTypeMismatch, dt.ErrTypeMismatch},
	{codeNotDatatype, ErrNotDatatype},
	{codeOverflow, dt.ErrOverflow},
	{codeTooManyDeferred, dt.ErrTooManyDeferred},
	{codeBadUpdate, ErrBadUpdate},
	{codeUnknownType, ErrUnknownType},
	{codeBadKey, ErrBadKey},
	{codePGNoType, ErrUnknownType},
}

// remoteErrors holds the sentinels services built on kv registered.
type remoteErrors struct {
	mu   sync.RWMutex
	errs []codedSentinel
}

type codedSentinel struct {
	code transport.Code
	err  error
}

// RegisterError makes errors wrapping sentinel cross the wire with code
// (text only): a handler of this service that returns one (kv's own, or
// one served with Handle) sends the code, and a call that receives it
// returns an error that errors.Is matches with sentinel, with the remote
// text. Codes are part of the protocol: a service keeps its codes for
// good, above transport.CodeApp and clear of kv's. Register at start, on
// every node.
func (s *Service) RegisterError(code transport.Code, sentinel error) {
	s.remoteErrs.mu.Lock()
	defer s.remoteErrs.mu.Unlock()
	s.remoteErrs.errs = append(s.remoteErrs.errs, codedSentinel{code, sentinel})
}

// sentinels returns kv's coded sentinels and the registered ones.
func (s *Service) sentinels() []codedSentinel {
	s.remoteErrs.mu.RLock()
	defer s.remoteErrs.mu.RUnlock()
	out := make([]codedSentinel, 0, len(sentinelCodes)+len(s.remoteErrs.errs))
	for _, c := range sentinelCodes {
		out = append(out, codedSentinel{c.code, c.err})
	}
	return append(out, s.remoteErrs.errs...)
}

func coded(code transport.Code, v any) error {
	b, _ := json.Marshal(v)
	return transport.Errorf(code, "%s", b)
}

// toRemote turns an error a handler returns into one whose type survives
// the wire. Errors it does not know pass unchanged (the peer sees their
// text as a handler failure).
func (s *Service) toRemote(err error) error {
	var ms *siblings.TooManySiblingsError
	var tl *siblings.TooLargeError
	var pe *dt.PreconditionError
	var ir *dt.InsufficientRightsError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ms):
		return coded(codeTooManySiblings, remoteLimit{N: ms.Siblings, Max: ms.Max})
	case errors.As(err, &tl):
		return coded(codeTooLarge, remoteLimit{N: tl.Size, Max: tl.Max})
	case errors.As(err, &ir):
		return coded(codeRights, ir)
	case errors.As(err, &pe):
		return coded(codePrecondition, remotePrecondition{Path: pe.Path, Element: pe.Element})
	}
	for _, c := range s.sentinels() {
		if errors.Is(err, c.err) {
			return transport.Errorf(c.code, "%s", err.Error())
		}
	}
	return err
}

// fromRemote rebuilds the typed error of a coded remote error; any other
// error is returned unchanged.
func (s *Service) fromRemote(err error) error {
	var re *transport.RemoteError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case codeTooManySiblings, codeTooLarge:
		var l remoteLimit
		if json.Unmarshal([]byte(re.Message), &l) != nil {
			return err
		}
		if re.Code == codeTooLarge {
			return &siblings.TooLargeError{Size: l.N, Max: l.Max}
		}
		return &siblings.TooManySiblingsError{Siblings: l.N, Max: l.Max}
	case codePrecondition:
		var p remotePrecondition
		if json.Unmarshal([]byte(re.Message), &p) != nil {
			return err
		}
		return &dt.PreconditionError{Path: p.Path, Element: p.Element}
	case codeRights:
		var ir dt.InsufficientRightsError
		if json.Unmarshal([]byte(re.Message), &ir) != nil {
			return err
		}
		return &ir
	}
	for _, c := range s.sentinels() {
		if re.Code == c.code {
			return remoteSentinelError(c.err, string(re.Node), re.Message)
		}
	}
	return err
}

// remoteSentinelError is the error for a sentinel another node reported
// with its text msg. The wire carries the text only (the codes above are
// the protocol), so this is where a remote refusal's detail is split from
// it: a text that reads as the sentinel's words, ": " and a detail (as a
// *UserError's and a fmt.Errorf("%w: …", sentinel)'s do) comes back as a
// *UserError with that detail (and " (on NODE)"); any other text as a
// *remoteSentinel. Either reads as the remote text followed by
// " (on NODE)".
func remoteSentinelError(sentinel error, node, msg string) error {
	on := ""
	if node != "" {
		on = " (on " + node + ")"
	}
	if d, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok {
		return &UserError{Err: sentinel, Detail: d + on}
	}
	return &remoteSentinel{err: sentinel, node: node, msg: msg}
}

// remoteSentinel is a sentinel error reported by another node with a text
// that has no detail after the sentinel's words: errors.Is matches the
// sentinel, and the text is the remote one.
type remoteSentinel struct {
	err  error
	node string
	msg  string
}

func (e *remoteSentinel) Error() string {
	if e.node == "" {
		return e.msg
	}
	return e.msg + " (on " + e.node + ")"
}
func (e *remoteSentinel) Unwrap() error { return e.err }
