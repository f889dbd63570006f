package bench

import (
	"io"
	"net/http"
	"strings"
	"sync"
)

// BareVclock is the fixed vclock the bare server returns with every object.
const BareVclock = "a85hYGBgzGDKBQ=="

// bareServer is the in-memory ceiling server; see NewBareServer.
type bareServer struct {
	mu   sync.RWMutex
	objs map[string][]byte
}

// NewBareServer returns the "ceiling" server: a plain net/http handler that
// stores object bodies in a map behind a sync.RWMutex and speaks just enough
// of Riak's HTTP object API for the benchmark. For /buckets/B/keys/K and
// /types/T/buckets/B/keys/K (the former meaning type "default") it answers
// GET with 200, the body and a fixed X-Riak-Vclock header (BareVclock) or
// 404; PUT and POST store the body and answer 204; DELETE removes the key and
// answers 204. Other paths get 404 and other methods 405.
//
// It does no replication, persistence, vclock handling or sibling
// resolution, so a benchmark against it measures the cost of HTTP and the
// load generator alone: an upper bound for any real server on the same
// machine.
func NewBareServer() http.Handler {
	return &bareServer{objs: make(map[string][]byte)}
}

// objectKey maps an escaped request path to the store key "T/B/K" (with the
// segments still escaped), or reports false if it is not an object path.
func objectKey(path string) (string, bool) {
	typ := "default"
	if rest, ok := strings.CutPrefix(path, "/types/"); ok {
		t, after, ok := strings.Cut(rest, "/")
		if !ok || t == "" {
			return "", false
		}
		typ, path = t, "/"+after
	}
	rest, ok := strings.CutPrefix(path, "/buckets/")
	if !ok {
		return "", false
	}
	bucket, rest, ok := strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return "", false
	}
	key, ok := strings.CutPrefix(rest, "keys/")
	if !ok || key == "" || strings.Contains(key, "/") {
		return "", false
	}
	return typ + "/" + bucket + "/" + key, true
}

// ServeHTTP implements http.Handler.
func (s *bareServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k, ok := objectKey(r.URL.EscapedPath())
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.RLock()
		body, found := s.objs[k]
		s.mu.RUnlock()
		if !found {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/octet-stream"}
		h[VclockHeader] = []string{BareVclock}
		w.Write(body) // stored bodies are never mutated, so no lock is needed
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.objs[k] = body
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.objs, k)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
