package http

import (
	"encoding/json"
	"strings"
	"testing"
)

// The admin routes behind `riakgo admin bucket-type …`, and PUT
// /types/T/props.

type adminTypeDoc struct {
	Name    string            `json:"name"`
	Status  string            `json:"status"`
	Active  bool              `json:"active"`
	Props   map[string]any    `json:"props"`
	Error   string            `json:"error"`
	Reasons map[string]string `json:"reasons"`
	Have    []string          `json:"members_with"`
	Lack    []string          `json:"members_without"`
}

func adminDoc(t *testing.T, r *resp, status int) adminTypeDoc {
	t.Helper()
	r.want(t, status, "-").wantHeader(t, "Content-Type", "application/json")
	var d adminTypeDoc
	dec := json.NewDecoder(strings.NewReader(r.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s %s: body %q: %v", r.Request.Method, r.Request.URL.Path, r.body, err)
	}
	return d
}

func (e *env) admin(method, path, body string) *resp {
	e.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return e.do(method, "/admin/bucket-types"+path, hdr("Content-Type", "application/json"), b)
}

func listTypes(t *testing.T, e *env) string {
	t.Helper()
	r := e.admin("GET", "", "").want(t, 200, "-")
	var doc struct {
		Types []adminTypeDoc `json:"types"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("list: %q: %v", r.body, err)
	}
	var out []string
	for _, ty := range doc.Types {
		if ty.Props != nil {
			t.Errorf("list entry %s has props; the list is names and states", ty.Name)
		}
		st := "not active"
		if ty.Active {
			st = "active"
		}
		out = append(out, ty.Name+" ("+st+", "+ty.Status+")")
	}
	return strings.Join(out, "; ")
}

func TestAdminBucketTypeCycle(t *testing.T) {
	e := newEnv(t, Options{})
	if got := listTypes(t, e); got != "default (active, active)" {
		t.Errorf("initial list: %s", got)
	}
	e.admin("GET", "", "").want(t, 200, `{"types":[{"name":"default","status":"active","active":true}]}`)

	// Unknown type.
	e.admin("GET", "/maps", "").want(t, 404, `{"name":"maps","status":"undefined","active":false}`)

	// Create: ready, typed defaults with the given props, not usable yet.
	d := adminDoc(t, e.admin("PUT", "/maps", `{"props":{"datatype":"map"}}`), 200)
	if d.Name != "maps" || d.Status != "ready" || d.Active {
		t.Errorf("create answer %+v", d)
	}
	checkProps(t, d.Props, map[string]any{"datatype": "map", "allow_mult": true, "dvv_enabled": true, "n_val": float64(3), "active": false})
	if _, ok := d.Props["name"]; ok {
		t.Errorf("type props carry a name: %v", d.Props)
	}
	d = adminDoc(t, e.admin("GET", "/maps", ""), 200)
	if d.Status != "ready" || d.Props["datatype"] != "map" || len(d.Have) != 1 || len(d.Lack) != 0 {
		t.Errorf("status after create %+v", d)
	}
	if got := listTypes(t, e); got != "default (active, active); maps (not active, ready)" {
		t.Errorf("list after create: %s", got)
	}
	e.get("/types/maps/props").want(t, 404, "-")
	e.get("/types/maps/buckets/b/keys/k").want(t, 404, "Unknown bucket type: maps")
	// Updating a type that is not active is a conflict.
	d = adminDoc(t, e.admin("PUT", "/maps/props", `{"props":{"n_val":2}}`), 409)
	if d.Error == "" {
		t.Errorf("update before activation: %+v", d)
	}

	// Re-create before activation: the last definition wins.
	d = adminDoc(t, e.admin("PUT", "/maps", `{"props":{"datatype":"map","n_val":2}}`), 200)
	checkProps(t, d.Props, map[string]any{"n_val": float64(2)})

	// Activate.
	d = adminDoc(t, e.admin("POST", "/maps/activate", ""), 200)
	if d.Status != "active" || !d.Active || d.Props["active"] != true || d.Props["n_val"] != float64(2) {
		t.Errorf("activate answer %+v", d)
	}
	if got := listTypes(t, e); got != "default (active, active); maps (active, active)" {
		t.Errorf("list after activate: %s", got)
	}
	checkProps(t, e.get("/types/maps/props").want(t, 200, "-").props(t), map[string]any{"datatype": "map", "allow_mult": true, "name": "maps"})
	d = adminDoc(t, e.admin("PUT", "/maps", `{"props":{"datatype":"map"}}`), 409)
	if !strings.Contains(d.Error, "already active") {
		t.Errorf("re-create after activation: %+v", d)
	}

	// Update an active type.
	d = adminDoc(t, e.admin("PUT", "/maps/props", `{"props":{"n_val":5}}`), 200)
	if d.Status != "active" || d.Props["n_val"] != float64(5) || d.Props["datatype"] != "map" {
		t.Errorf("update answer %+v", d)
	}
	d = adminDoc(t, e.admin("PUT", "/maps/props", `{"props":{"datatype":"set","n_val":1}}`), 400)
	if d.Error != "invalid bucket type properties" || d.Reasons["datatype"] != "Cannot update datatype on existing bucket" {
		t.Errorf("invalid update: %+v", d)
	}
	d = adminDoc(t, e.admin("PUT", "/maps/props", `{"props":{"allow_mult":"maybe"}}`), 400)
	if d.Reasons["allow_mult"] != "not_boolean" {
		t.Errorf("update with a non-boolean allow_mult: %+v", d)
	}
	if p := adminDoc(t, e.admin("GET", "/maps", ""), 200).Props; p["n_val"] != float64(5) || p["datatype"] != "map" {
		t.Errorf("props after a refused update: %v", p)
	}
	e.alive()
}

func TestAdminBucketTypeErrors(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		method, path, body string
		status             int
		errPrefix          string
	}{
		{"PUT", "/x", `{"props":`, 400, "invalid json"},
		{"PUT", "/x", `not json`, 400, "invalid json"},
		{"PUT", "/x", `{"n_val":3}`, 400, "no props field found in json"},
		{"PUT", "/x", `{"props":[1]}`, 400, "props must be a JSON object"},
		{"PUT", "/x", `{"props":null}`, 400, "props must be a JSON object"},
		{"PUT", "/default", `{"props":{}}`, 400, "invalid bucket type name: default_type"},
		{"PUT", "/any", `{"props":{}}`, 400, "invalid bucket type name: The name 'any' may not be used for bucket types"},
		{"POST", "/nope/activate", "", 404, "nope is not an existing bucket type"},
		{"PUT", "/nope/props", `{"props":{"n_val":2}}`, 404, "nope is not an existing bucket type"},
		{"PUT", "/nope/props", ``, 400, "invalid json"},
	} {
		d := adminDoc(t, e.admin(tc.method, tc.path, tc.body), tc.status)
		if !strings.HasPrefix(d.Error, tc.errPrefix) {
			t.Errorf("%s %s %s: error %q, want %q…", tc.method, tc.path, tc.body, d.Error, tc.errPrefix)
		}
	}
	// Invalid props name each reason.
	d := adminDoc(t, e.admin("PUT", "/x", `{"props":{"datatype":"nope","n_val":"three","write_once":"maybe"}}`), 400)
	if d.Error != "invalid bucket type properties" ||
		d.Reasons["datatype"] != "nope not supported for bucket datatype property" ||
		d.Reasons["n_val"] == "" || d.Reasons["write_once"] != "not_boolean" {
		t.Errorf("invalid props: %+v", d)
	}
	e.admin("GET", "/x", "").want(t, 404, "-")

	// An empty body creates with the typed defaults.
	d = adminDoc(t, e.admin("PUT", "/plain", ""), 200)
	checkProps(t, d.Props, map[string]any{"allow_mult": true, "dvv_enabled": true, "n_val": float64(3)})
	if _, ok := d.Props["datatype"]; ok {
		t.Errorf("plain type has a datatype: %v", d.Props)
	}
	adminDoc(t, e.admin("POST", "/plain/activate", ""), 200)
	adminDoc(t, e.admin("POST", "/plain/activate", ""), 200) // idempotent

	// Methods and paths.
	e.admin("DELETE", "/plain", "").want(t, 405, "-")
	e.admin("GET", "/plain/activate", "").want(t, 405, "-")
	e.admin("GET", "/plain/props", "").want(t, 405, "-")
	e.admin("POST", "", "").want(t, 405, "-")
	e.admin("GET", "/plain/other", "").want(t, 404, "-")
	e.admin("GET", "/a/b/c", "").want(t, 404, "-")
	e.get("/admin").want(t, 404, "-")
	e.get("/admin/other").want(t, 404, "-")
	e.alive()
}

func TestTypePropsPut(t *testing.T) {
	e := newEnv(t, Options{})
	e.makeType("t", `{"n_val":2}`)
	checkProps(t, e.get("/types/t/props").want(t, 200, "-").props(t), map[string]any{"name": "t", "allow_mult": true})

	e.do("PUT", "/types/t/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"n_val":4,"notfound_ok":false}}`)).want(t, 204, "")
	p := e.get("/types/t/props").want(t, 200, "-").props(t)
	checkProps(t, p, map[string]any{"n_val": json.Number("4"), "notfound_ok": false, "allow_mult": true})
	// Buckets of the type inherit the update.
	checkProps(t, e.get("/types/t/buckets/b/props").want(t, 200, "-").props(t), map[string]any{"n_val": json.Number("4"), "name": "b"})

	// Invalid props: 400 with the reasons as JSON.
	r := e.do("PUT", "/types/t/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"n_val":0}}`)).want(t, 400, "-")
	var reasons map[string]string
	if err := json.Unmarshal(r.body, &reasons); err != nil || reasons["n_val"] == "" {
		t.Errorf("invalid type props: %q", r.body)
	}
	// The default type cannot be changed.
	r = e.do("PUT", "/types/default/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"n_val":2}}`)).want(t, 400, "-")
	if !strings.Contains(r.Body(), "no_default_update") {
		t.Errorf("PUT /types/default/props: %q", r.body)
	}
	// Unknown or inactive types: 404.
	e.do("PUT", "/types/nope/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"n_val":2}}`)).want(t, 404, "-")
	if err := e.svc.CreateType("inactive", nil); err != nil {
		t.Fatal(err)
	}
	e.do("PUT", "/types/inactive/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"n_val":2}}`)).want(t, 404, "-")
	e.get("/types/nope/props").want(t, 404, "-")
	e.get("/types/inactive/props").want(t, 404, "-")
	// Bad bodies.
	e.do("PUT", "/types/t/props", hdr("Content-Type", "application/json"), []byte(`{"n_val":2}`)).want(t, 400, "-")
	e.do("PUT", "/types/t/props", hdr("Content-Type", "text/plain"), []byte(`{"props":{"n_val":2}}`)).want(t, 415, "-")
	checkProps(t, e.get("/types/t/props").props(t), map[string]any{"n_val": json.Number("4")})
	e.alive()
}
