package memstore_test

import (
	"testing"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/kv/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Engine { return memstore.New() })
}

// TestReopen checks the in-memory stand-in for a restart: a closed store
// refuses calls, and Reopen brings it back with its data.
func TestReopen(t *testing.T) {
	s := memstore.New()
	var b storage.Batch
	b.Set(1, []byte("k"), []byte("v"))
	b.SetMeta([]byte("m"), []byte("mv"))
	if err := s.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Reopen()
	if v, err := s.Get(1, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get after Reopen = %q, %v", v, err)
	}
	if v, err := s.GetMeta([]byte("m")); err != nil || string(v) != "mv" {
		t.Fatalf("GetMeta after Reopen = %q, %v", v, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
