// Package lab replays concurrent histories (writers, their reads and
// writes, partitions, heals) against several sibling-resolution strategies
// and reports what each one made of them: the final value, the value the
// writers' operations add up to, operations lost, operations applied
// twice, and the most siblings a read saw. `riakgo lab FILE` runs it;
// docs/lab.md describes the scenario format and docs/lab/ holds examples.
//
// The replicas are riakgo's own rules, not a simulation of them: sibling
// strategies store siblings.Object values, write with siblings.Update from
// the writer's read context and replicate with siblings.Merge, as vnodes
// do; data-type strategies apply dt operations at the replica with its
// actor and replicate with the type's Merge. A write reaches the replicas
// of its partition group at once; other groups get it on heal and sync.
package lab
