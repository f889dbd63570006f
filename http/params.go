package http

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
)

// apiError is an error with the HTTP status and text body to answer.
type apiError struct {
	status int
	body   string
	header map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, strings.TrimSpace(e.body)) }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: 400, body: fmt.Sprintf(format, args...)}
}

// requestOptions parses the quorum, boolean and timeout query parameters
// every object method accepts. All are validated on every method, as Riak
// does, even those the method ignores.
func requestOptions(q url.Values) (kv.Options, *apiError) {
	var o kv.Options
	for _, p := range []struct {
		name string
		dst  *quorum.Value
	}{{"r", &o.R}, {"pr", &o.PR}, {"w", &o.W}, {"dw", &o.DW}, {"pw", &o.PW}, {"rw", &o.RW}, {"node_confirms", &o.NodeConfirms}} {
		s, ok := q[p.name]
		if !ok || len(s) == 0 {
			continue
		}
		v, err := quorum.ParseValue(s[0])
		if err != nil {
			return o, badRequest("%s query parameter must be an integer or one of the following words: 'one', 'quorum' or 'all'\n", p.name)
		}
		*p.dst = v
	}
	for _, p := range []struct {
		name string
		dst  **bool
	}{{"notfound_ok", &o.NotFoundOK}, {"basic_quorum", &o.BasicQuorum}} {
		s, ok := q[p.name]
		if !ok || len(s) == 0 {
			continue
		}
		switch strings.ToLower(s[0]) {
		case "true":
			t := true
			*p.dst = &t
		case "false":
			f := false
			*p.dst = &f
		case "default":
		default:
			return o, badRequest("%s query parameter must be true or false\n", p.name)
		}
	}
	if s := q.Get("timeout"); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms < 0 {
			return o, badRequest("Bad timeout value %q\n", s)
		}
		o.Timeout = time.Duration(ms) * time.Millisecond
	}
	o.ReturnBody = q.Get("returnbody") == "true"
	return o, nil
}
