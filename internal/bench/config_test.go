package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMix(t *testing.T) {
	good := []struct {
		in   string
		want Mix
		str  string
	}{
		{"get:5,update:1", Mix{{OpGet, 5}, {OpUpdate, 1}}, "get:5,update:1"},
		{" get : 5 , put:2,delete:1 ", Mix{{OpGet, 5}, {OpPut, 2}, {OpDelete, 1}}, "get:5,put:2,delete:1"},
		{"update:1", Mix{{OpUpdate, 1}}, "update:1"},
		{"get:0,put:3", Mix{{OpGet, 0}, {OpPut, 3}}, "get:0,put:3"},
	}
	for _, tc := range good {
		m, err := ParseMix(tc.in)
		if err != nil {
			t.Errorf("ParseMix(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(m, tc.want) {
			t.Errorf("ParseMix(%q) = %v, want %v", tc.in, m, tc.want)
		}
		if got := m.String(); got != tc.str {
			t.Errorf("ParseMix(%q).String() = %q, want %q", tc.in, got, tc.str)
		}
	}

	bad := []string{
		"",
		"   ",
		"get",
		"get:",
		"get:x",
		"get:-1",
		"get:1.5",
		"read:1",
		"GET:1",
		"get:1,get:2",
		"get:0",
		"get:0,update:0",
		"get:1,",
		",get:1",
		"get:1;update:1",
		"get:99999999999",
	}
	for _, in := range bad {
		if m, err := ParseMix(in); err == nil {
			t.Errorf("ParseMix(%q) = %v, want error", in, m)
		}
	}
}

func TestMixSet(t *testing.T) {
	m := Mix{{OpGet, 1}}
	if err := m.Set("put:2,delete:1"); err != nil {
		t.Fatal(err)
	}
	if want := (Mix{{OpPut, 2}, {OpDelete, 1}}); !slices.Equal(m, want) {
		t.Fatalf("after Set: %v, want %v", m, want)
	}
	if err := m.Set("bogus"); err == nil {
		t.Fatal("Set(bogus) succeeded")
	}
	if want := (Mix{{OpPut, 2}, {OpDelete, 1}}); !slices.Equal(m, want) {
		t.Fatalf("failed Set changed mix to %v", m)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if c.URL != "http://127.0.0.1:8098" || c.Bucket != "bench" || c.Type != "" ||
		c.Workers != 50 || c.Duration != 60*time.Second || c.Interval != 10*time.Second ||
		c.Keys != 100000 || c.KeyGen != KeyGenPareto || c.ValueSize != 1024 ||
		c.Mix.String() != "get:5,update:1" || c.Seed != 0 || c.CSV != "" ||
		c.Timeout != 5*time.Second || c.Preload != 0 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestValidate(t *testing.T) {
	ok := []func(*Config){
		func(c *Config) { c.Type = "maps" },
		func(c *Config) { c.URL = "https://riak.example:8098/prefix/" },
		func(c *Config) { c.KeyGen = KeyGenUniform },
		func(c *Config) { c.ValueSize = 0 },
		func(c *Config) { c.Preload = c.Keys },
		func(c *Config) { c.Keys = 1; c.Workers = 1 },
		func(c *Config) { c.Bucket = "a bucket/with slash" },
	}
	for i, mod := range ok {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("ok case %d: Validate() = %v", i, err)
		}
	}

	bad := map[string]func(*Config){
		"url":        func(c *Config) { c.URL = "://nope" },
		"scheme":     func(c *Config) { c.URL = "ftp://127.0.0.1:8098" },
		"host":       func(c *Config) { c.URL = "http:///path" },
		"query":      func(c *Config) { c.URL = "http://127.0.0.1:8098/?r=1" },
		"bucket":     func(c *Config) { c.Bucket = "" },
		"workers":    func(c *Config) { c.Workers = 0 },
		"duration":   func(c *Config) { c.Duration = 0 },
		"interval":   func(c *Config) { c.Interval = -time.Second },
		"keys":       func(c *Config) { c.Keys = 0 },
		"keygen":     func(c *Config) { c.KeyGen = "zipf" },
		"value-size": func(c *Config) { c.ValueSize = -1 },
		"huge-value": func(c *Config) { c.ValueSize = maxValueSize + 1 },
		"timeout":    func(c *Config) { c.Timeout = 0 },
		"preload":    func(c *Config) { c.Preload = -1 },
		"preload>keys": func(c *Config) {
			c.Keys = 10
			c.Preload = 11
		},
		"no mix":    func(c *Config) { c.Mix = nil },
		"zero mix":  func(c *Config) { c.Mix = Mix{{OpGet, 0}} },
		"dup mix":   func(c *Config) { c.Mix = Mix{{OpGet, 1}, {OpGet, 1}} },
		"bad op":    func(c *Config) { c.Mix = Mix{{Op(7), 1}} },
		"neg weigh": func(c *Config) { c.Mix = Mix{{OpGet, -1}, {OpPut, 2}} },
	}
	for name, mod := range bad {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate() accepted %+v", name, c)
		}
	}
}

func TestParseOp(t *testing.T) {
	for op := range Op(numOps) {
		got, err := ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", op.String(), got, err)
		}
	}
	if _, err := ParseOp("list"); err == nil || !strings.Contains(err.Error(), "get, update, put, delete") {
		t.Errorf("ParseOp(list) error = %v", err)
	}
	if s := Op(9).String(); s != "op(9)" {
		t.Errorf("Op(9).String() = %q", s)
	}
}
