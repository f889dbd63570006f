// Package static is a membership.Membership driven by the test instead of
// a failure detector: the fourth seam of DESIGN.md. The in-process test
// cluster (internal/testcluster) uses it to make nodes fail, partition and
// recover at exact points, with no timing.
//
//	net := static.NewNetwork()
//	a, b, c := net.Node("a"), net.Node("b"), net.Node("c")
//	net.JoinAll()                           // or b.Join([]string{a.Local().GossipAddr})
//	net.SetUp("a", true)                    // a is ready: Up("a") everywhere
//	net.Partition([]static.NodeID{"a"})     // a alone; b and c together
//	net.Gossip()                            // state exchange between reachable pairs
//	net.Heal()
//	net.Kill("c")                           // c's process is gone
//	c = net.Node("c")                       // ... and restarts, new incarnation
//
// # Model
//
// Every change (Kill, Partition, Heal, SetUp, Join, Leave, SetLocalMeta,
// Shutdown, a new node) takes effect in every node's view before the call
// returns, as if the failure detector had already converged:
//
//   - Nodes know each other through Join, and knowledge spreads at once
//     between nodes that can reach each other (gossip dissemination), so
//     joining any member joins its whole reachable cluster. Nodes that
//     know a node keep knowing it, so a killed node that restarts is taken
//     back in as soon as it is reachable, as memberlist's gossip to the
//     dead does while it lasts. Network.ForgetDead models what follows in
//     memberlist: a node forgets the members it has seen die, so a healed
//     partition or a restarted node merges only when one side joins the
//     other (the in-process test cluster runs in this mode).
//   - A node sees another it knows as alive (with its current meta) when
//     both are running and in the same partition group, as left once it
//     has called Leave (partition or not), and as dead otherwise: killed,
//     shut down, or across a partition (keeping the last meta it saw).
//   - Each change of a node's view is an event on its channel: Join (a
//     node appears or comes back, the local node first), Update (meta
//     change), Fail (alive to dead) and Leave (alive to left). A dead node
//     that then leaves stays dead, as in memberlist.
//
// Events are pushed to the node's channel synchronously while its buffer
// (1024 events) has room, so a test can read them right after the call.
//
// # State exchange
//
// StateHandler calls happen only inside Gossip, Deliver and Join, on the
// caller's goroutine and outside the network's lock, so handlers may call
// Broadcast. Broadcast queues its payload (superseding the sender's
// earlier undelivered one); Deliver hands queued payloads to every node
// the sender can reach and knows alive, repeatedly until handlers stop
// broadcasting. Gossip runs Deliver, then a push/pull exchange between
// every reachable pair of nodes that know each other (both LocalStates
// are taken before either merge, as in memberlist), then Deliver again.
// Join exchanges state with each seed it reaches, as memberlist's join
// does.
//
// # Errors
//
// Network methods that name a node (SetUp, Kill) panic if the network has
// never had a node of that name: a typo in a test should fail loudly.
package static
