// Package lint holds the architecture tests of riakgo: the dependency rules
// of DESIGN.md (pure packages import nothing with I/O, each third-party
// dependency has one owner, only the node wiring picks concrete adapters,
// lower layers never import higher ones, handoff never imports kv, the
// two client faces never import each other, http (tests included) never
// imports handoff), the purity of the pure packages
// (no clock reads, no goroutines), and a doc.go in every package. `make
// lint` runs them.
package lint
