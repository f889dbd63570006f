package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBareServer(t *testing.T) {
	h := NewBareServer()
	do := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}

	const p = "/buckets/b/keys/k1"
	if rec := do("GET", p, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET missing: %d", rec.Code)
	}
	if rec := do("PUT", p, "hello"); rec.Code != http.StatusNoContent {
		t.Fatalf("PUT: %d", rec.Code)
	}
	rec := do("GET", p, "")
	if rec.Code != http.StatusOK || rec.Body.String() != "hello" || rec.Header().Get(VclockHeader) != BareVclock {
		t.Fatalf("GET: %d %q vclock=%q", rec.Code, rec.Body.String(), rec.Header().Get(VclockHeader))
	}
	// The untyped path is the default bucket type; other types are separate.
	if rec := do("GET", "/types/default/buckets/b/keys/k1", ""); rec.Code != http.StatusOK {
		t.Fatalf("GET default type: %d", rec.Code)
	}
	if rec := do("GET", "/types/t/buckets/b/keys/k1", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET other type: %d", rec.Code)
	}
	if rec := do("POST", "/types/t/buckets/b/keys/k1", "typed"); rec.Code != http.StatusNoContent {
		t.Fatalf("POST typed: %d", rec.Code)
	}
	if rec := do("GET", "/types/t/buckets/b/keys/k1", ""); rec.Body.String() != "typed" {
		t.Fatalf("GET typed: %q", rec.Body.String())
	}
	if rec := do("DELETE", p, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", rec.Code)
	}
	if rec := do("GET", p, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET deleted: %d", rec.Code)
	}
	if rec := do("PATCH", p, ""); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH: %d", rec.Code)
	}
	for _, bad := range []string{"/", "/ping", "/buckets/b", "/buckets/b/keys/", "/buckets//keys/k",
		"/buckets/b/keys/k/x", "/types//buckets/b/keys/k", "/types/t", "/riak/b/k"} {
		if rec := do("GET", bad, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, rec.Code)
		}
	}
}
