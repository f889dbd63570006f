package riakapi

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// ErrBadRequest is wrapped by every error of this package: the request is
// at fault (HTTP 400, or an RpbErrorResp). Error texts are Riak's.
var ErrBadRequest = errors.New("riakgo/riakapi: bad request")

// Error is a request error with Riak's text.
type Error struct {
	Msg string
	// Bare marks texts that Riak's HTTP API sends without a trailing
	// newline (riak_kv_wm_index's); the HTTP face adds one to the others.
	Bare bool
}

func (e *Error) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrBadRequest) true.
func (e *Error) Unwrap() error { return ErrBadRequest }

func bad(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Indexes checks and normalises the index entries sent with an object:
// field names lower-cased and ending in _bin or _int, _int values parsed
// and written in canonical decimal form, duplicates dropped, the result
// sorted by field then value. Values are taken as given (each face splits
// its own lists).
func Indexes(in []siblings.IndexEntry) ([]siblings.IndexEntry, error) {
	if len(in) == 0 {
		return nil, nil
	}
	seen := make(map[siblings.IndexEntry]bool, len(in))
	out := make([]siblings.IndexEntry, 0, len(in))
	for _, e := range in {
		field := strings.ToLower(e.Field)
		isInt := strings.HasSuffix(field, "_int")
		if !isInt && !strings.HasSuffix(field, "_bin") {
			return nil, bad("Unknown field type for field: '%s'.", field)
		}
		v := e.Value
		if isInt {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return nil, bad("Could not parse field '%s', value '%s'.", field, v)
			}
			v = strconv.FormatInt(n, 10)
		}
		x := siblings.IndexEntry{Field: field, Value: v}
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return out[i].Value < out[j].Value
	})
	return out, nil
}

// IndexField checks a query's index field (already lower-cased): $bucket,
// $key, or a name ending in _bin or _int.
func IndexField(field string) error {
	if field != "$bucket" && field != "$key" && !strings.HasSuffix(field, "_bin") && !strings.HasSuffix(field, "_int") {
		return bad("Invalid query: {unknown_field_type,<<\"%s\">>}", field)
	}
	return nil
}

// TermRegex compiles a query's term filter; integer fields take none.
func TermRegex(field, re string) (*regexp.Regexp, error) {
	if strings.HasSuffix(field, "_int") {
		return nil, &Error{Msg: "Can not use term regular expressions on integer queries", Bare: true}
	}
	rx, err := regexp.Compile(re)
	if err != nil {
		return nil, bad("Invalid term regular expression %q: %v", re, err)
	}
	return rx, nil
}

// QueryReturnsTerms reports whether a query answers (term, key) pairs when
// the client asks for terms: Riak gives them for ranges over user fields,
// never for exact matches, $bucket or $key.
func QueryReturnsTerms(q kv.IndexQuery) bool {
	return q.Range && q.Field != "$key" && q.Field != "$bucket"
}

// DatatypeError says why a bucket cannot take data-type operations.
type DatatypeError struct {
	// Reason: "datatype" (the type has none, or one with no such API),
	// "allow_mult" or "last_write_wins".
	Reason string
	msg    string
}

func (e *DatatypeError) Error() string { return e.msg }

// TopLevel reports whether a bucket type's datatype k can be fetched and
// updated through the data-type APIs.
func TopLevel(k dt.Kind) bool {
	switch k {
	case dt.KindCounter, dt.KindSet, dt.KindMap, dt.KindHLL, dt.KindGSet, dt.KindOpLog, dt.KindBCounter:
		return true
	}
	return false
}

// DatatypeKind returns the data type of a bucket's values, or a
// *DatatypeError if the bucket cannot take data-type operations.
func DatatypeKind(props kv.Props) (dt.Kind, error) {
	kind, ok := dt.ParseKind(props.Datatype)
	if !ok || !TopLevel(kind) {
		name := props.Datatype
		if name == "" {
			name = "undefined"
		}
		return 0, &DatatypeError{Reason: "datatype", msg: "Bucket datatype '" + name + "' is not a supported type."}
	}
	if !props.AllowMult {
		return 0, &DatatypeError{Reason: "allow_mult", msg: "Bucket must be allow_mult=true"}
	}
	if props.LastWriteWins {
		return 0, &DatatypeError{Reason: "last_write_wins", msg: "Bucket must not be last_write_wins=true: concurrent data-type updates would be lost"}
	}
	return kind, nil
}

// CounterBucket checks that a bucket can hold Riak 1.4 counters.
func CounterBucket(props kv.Props) error {
	if !props.AllowMult {
		return &DatatypeError{Reason: "allow_mult", msg: "Counters require bucket property 'allow_mult=true'"}
	}
	if props.LastWriteWins {
		return &DatatypeError{Reason: "last_write_wins", msg: "Counters require bucket property 'last_write_wins=false'"}
	}
	return nil
}

// CheckClock refuses a causal context no real write could have produced:
// a counter above kv.MaxClockCounter (a forged clock meant to make a
// vnode's counter wrap, issue 12). It returns the reason, for the faces'
// own error texts.
func CheckClock(vc vclock.VClock) error {
	for _, e := range vc {
		if e.Counter > kv.MaxClockCounter {
			return fmt.Errorf("actor %s has counter %d, beyond what any run of writes reaches", e.Actor, e.Counter)
		}
	}
	return nil
}
