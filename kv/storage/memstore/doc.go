// Package memstore is an in-memory storage.Engine for tests: a B-tree under
// a lock. It keeps nothing across processes; a "restart" in a test reuses
// the same *Store.
package memstore
