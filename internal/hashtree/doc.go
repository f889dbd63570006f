// Package hashtree is the anti-entropy hash tree of one replica's keys:
// 1024 segments, each the XOR of a mixed hash of (key, object hash) over
// the keys that fall in it (Tictac style, as in Riak 3's AAE). XOR makes
// updates deltas: a write XORs out the old entry and XORs in the new one,
// so the tree is kept current on every write without reading a leaf, and
// two trees compare segment by segment to find where replicas differ.
// Only those segments' keys are then listed and compared.
//
// Pure: no I/O, standard library only. A Tree is safe for concurrent use.
package hashtree
