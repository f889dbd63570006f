package quorum_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/riakgo/riakgo/quorum"
)

func TestParseValue(t *testing.T) {
	ok := []struct {
		in   string
		want quorum.Value
	}{
		{"one", quorum.ValOne},
		{"ONE", quorum.ValOne},
		{"One", quorum.ValOne},
		{"quorum", quorum.ValQuorum},
		{"QuOrUm", quorum.ValQuorum},
		{"all", quorum.ValAll},
		{"ALL", quorum.ValAll},
		{"default", quorum.ValDefault},
		{"Default", quorum.ValDefault},
		{"0", quorum.Of(0)},
		{"1", quorum.Of(1)},
		{"3", quorum.Of(3)},
		{"42", quorum.Of(42)},
	}
	for _, tc := range ok {
		got, err := quorum.ParseValue(tc.in)
		if err != nil {
			t.Errorf("ParseValue(%q): unexpected error %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseValue(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}

	bad := []string{"", "-1", "-3", "1.5", "abc", "on", "quorums", " 1", "1 ", "0x3", "1e2",
		"99999999999999999999999"}
	for _, in := range bad {
		got, err := quorum.ParseValue(in)
		if !errors.Is(err, quorum.ErrBadValue) {
			t.Errorf("ParseValue(%q) = %+v, %v; want ErrBadValue", in, got, err)
		}
	}
}

func TestZeroValueIsDefault(t *testing.T) {
	var v quorum.Value
	if v != quorum.ValDefault || v.Sym != quorum.Default {
		t.Fatalf("zero Value = %+v, want Default", v)
	}
}

func TestValueString(t *testing.T) {
	for _, tc := range []struct {
		v    quorum.Value
		want string
	}{
		{quorum.ValDefault, "default"},
		{quorum.ValOne, "one"},
		{quorum.ValQuorum, "quorum"},
		{quorum.ValAll, "all"},
		{quorum.Of(0), "0"},
		{quorum.Of(7), "7"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.v, got, tc.want)
		}
		// String output parses back to the same value.
		back, err := quorum.ParseValue(tc.v.String())
		if err != nil || back != tc.v {
			t.Errorf("ParseValue(%q) = %+v, %v; want %+v", tc.v.String(), back, err, tc.v)
		}
	}
}

func TestResolve(t *testing.T) {
	for n := 1; n <= 5; n++ {
		wantQuorum := map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3}[n]
		if got := n/2 + 1; got != wantQuorum {
			t.Fatalf("table error")
		}
		cases := []struct {
			name string
			v    quorum.Value
			def  quorum.Value
			want int
		}{
			{"one", quorum.ValOne, quorum.ValAll, 1},
			{"quorum", quorum.ValQuorum, quorum.ValOne, wantQuorum},
			{"all", quorum.ValAll, quorum.ValOne, n},
			{"int", quorum.Of(2), quorum.ValOne, 2},
			{"int0", quorum.Of(0), quorum.ValAll, 0},
			// An explicit integer is used as is, even above N (validation
			// rejects it later).
			{"int>n", quorum.Of(n + 1), quorum.ValOne, n + 1},
			{"default->one", quorum.ValDefault, quorum.ValOne, 1},
			{"default->quorum", quorum.ValDefault, quorum.ValQuorum, wantQuorum},
			{"default->all", quorum.ValDefault, quorum.ValAll, n},
			{"default->int", quorum.ValDefault, quorum.Of(1), 1},
			{"default->default", quorum.ValDefault, quorum.ValDefault, wantQuorum},
		}
		for _, tc := range cases {
			if got := quorum.Resolve(tc.v, n, tc.def); got != tc.want {
				t.Errorf("N=%d %s: Resolve(%v, %d, %v) = %d, want %d", n, tc.name, tc.v, n, tc.def, got, tc.want)
			}
		}
	}
}

func TestValueJSON(t *testing.T) {
	for _, tc := range []struct {
		v    quorum.Value
		json string
	}{
		{quorum.ValDefault, `"default"`},
		{quorum.ValOne, `"one"`},
		{quorum.ValQuorum, `"quorum"`},
		{quorum.ValAll, `"all"`},
		{quorum.Of(0), `0`},
		{quorum.Of(3), `3`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tc.v, b, err, tc.json)
		}
		var back quorum.Value
		if err := json.Unmarshal([]byte(tc.json), &back); err != nil || back != tc.v {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tc.json, back, err, tc.v)
		}
	}

	// Inside a struct (bucket props), both value and pointer receivers.
	type props struct {
		R  quorum.Value  `json:"r"`
		W  quorum.Value  `json:"w"`
		PR *quorum.Value `json:"pr"`
	}
	pr := quorum.Of(0)
	b, err := json.Marshal(props{R: quorum.ValQuorum, W: quorum.Of(2), PR: &pr})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"r":"quorum","w":2,"pr":0}`; string(b) != want {
		t.Errorf("Marshal(props) = %s, want %s", b, want)
	}
	var p props
	if err := json.Unmarshal([]byte(`{"r":"ALL","w":3,"pr":"one"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.R != quorum.ValAll || p.W != quorum.Of(3) || p.PR == nil || *p.PR != quorum.ValOne {
		t.Errorf("Unmarshal(props) = %+v (pr %+v)", p, p.PR)
	}

	// Accepted leniently: a count written as a string.
	var v quorum.Value
	if err := json.Unmarshal([]byte(`"2"`), &v); err != nil || v != quorum.Of(2) {
		t.Errorf(`Unmarshal("2") = %+v, %v; want Of(2)`, v, err)
	}

	for _, in := range []string{`-1`, `1.5`, `"abc"`, `""`, `true`, `"-2"`, `{}`, `[]`} {
		var v quorum.Value
		err := json.Unmarshal([]byte(in), &v)
		if err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want error", in, v)
			continue
		}
		if !errors.Is(err, quorum.ErrBadValue) {
			t.Errorf("Unmarshal(%s) error %v does not wrap ErrBadValue", in, err)
		}
	}
}
