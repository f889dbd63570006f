package kv

import (
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Test-only access to vnode internals, for the black-box tests in kv_test.

// EpochLease is how many epochs a vnode leases with one durable write.
const EpochLease = epochLease

// NewEpochForTest mints a fresh actor, as the first coordinated write of a
// key does.
func (v *Vnode) NewEpochForTest() (vclock.Actor, error) { return v.newEpoch() }

// WipeForTest removes k from the vnode's storage behind its back: the
// vnode "forgets" the key (a backend losing data while the vnode id
// survives).
func (v *Vnode) WipeForTest(k Key) error {
	var b storage.Batch
	b.Delete(v.part, appendStorageKey(nil, k))
	err := v.eng.Write(&b, storage.WriteOptions{})
	// The object cache forgets too, as it would in a restarted process.
	v.stored(k, v.stripe(k), nil, nil, false)
	return err
}

// StoreForTest overwrites k's stored object with o, without merging and
// without limits (a stale or corrupt replica).
func (v *Vnode) StoreForTest(k Key, o *siblings.Object) error {
	old, _, _ := v.read(k)
	var vb []byte
	err := v.write(k, old, o, false, false, &vb)
	v.stored(k, v.stripe(k), o, vb, err == nil)
	return err
}
