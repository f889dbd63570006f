package transfer

import (
	"fmt"

	"github.com/riakgo/riakgo/ring"
)

// Kind is the kind of a transfer. Its numbers cross the wire (handoff's
// Begin): append only.
type Kind uint8

// Transfer kinds.
const (
	// Ownership moves a partition to its next owner (join, leave, replace).
	Ownership Kind = 1
	// Hinted returns a fallback vnode's data to the partition's owner.
	Hinted Kind = 2
	// Repair sends the owner of a partition under repair the keys it
	// should hold that a neighbouring partition (Job.Source) holds
	// (riak_core's repair: the partitions before and after it together
	// hold a replica of every key of a partition).
	Repair Kind = 3
)

// String returns riak-admin's name of the kind.
func (k Kind) String() string {
	switch k {
	case Ownership:
		return "ownership"
	case Hinted:
		return "hinted"
	case Repair:
		return "repair"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Item is one object of a partition: its storage key and encoded value.
type Item struct {
	Key   []byte `msgpack:"k"`
	Value []byte `msgpack:"v"`
}

// Job is one transfer the node wants: partition P, of kind Kind, to node To.
type Job struct {
	Partition int
	Kind      Kind
	To        ring.NodeID
	// Source is, for a repair, the partition folded (a neighbour of
	// Partition, which is the partition under repair on To).
	Source int
}

func (j Job) String() string {
	if j.Kind == Repair {
		return fmt.Sprintf("repair of partition %d from partition %d to %s", j.Partition, j.Source, j.To)
	}
	return fmt.Sprintf("%s of partition %d to %s", j.Kind, j.Partition, j.To)
}

// Folded is the partition whose data the job sends: Source for a repair,
// else Partition.
func (j Job) Folded() int {
	if j.Kind == Repair {
		return j.Source
	}
	return j.Partition
}
