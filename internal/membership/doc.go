// Package membership is the contract for cluster membership and failure
// detection: which nodes exist, which are alive, which are up (alive and
// ready to serve), and a channel through which the ring's cluster state is
// exchanged between nodes. It is the fourth seam of DESIGN.md.
//
// A Membership is one node's view. Members are named by NodeID (the ring's
// node name) and carry a small Meta the node gossips about itself: its
// internode (cluster) and HTTP addresses, its incarnation (a random number
// minted at every process start, so that a restarted node is recognisably a
// new process) and its service-ready flag. Up(id) is "alive and ready",
// riak_core_node_watcher's "service up": preference lists and process-group
// liveness are computed from Up, never from reachability alone.
//
// The ring does not gossip by itself: it registers a StateHandler, whose
// LocalState is carried by the failure detector's periodic full-state
// exchange (memberlist's push/pull) and whose MergeRemoteState receives the
// peers' states, and it calls Broadcast to spread a change promptly.
//
// # Implementations
//
// internal/membership/memberlist adapts hashicorp/memberlist (SWIM) and is
// the product implementation; it is the only package that imports
// memberlist. internal/membership/static is driven by the test (the
// in-process test cluster uses it): the test kills nodes, partitions the
// network, flips ready flags and runs gossip rounds, and every node's view
// and events follow at once, with no timing involved. Only the node wiring
// (internal/node) and the test cluster pick an implementation; everything
// else sees this interface.
//
// # Wiring
//
// The node wiring mints an incarnation (NewIncarnation, or leaves
// Meta.Incarnation zero and lets the implementation mint one), starts the
// membership with Ready false, registers the ring's StateHandler, Joins the
// seeds it knows (from the command line or the persisted ring), sets Ready
// with SetLocalMeta once its vnodes serve, consumes Events (or polls
// Members), resolves internode addresses with Resolver, and calls Leave
// then Shutdown on the way out.
package membership
