// Package memnet is an in-memory network of transport.Transport endpoints
// for testing a whole cluster in one process: the first seam of DESIGN.md.
//
//	net := memnet.New(memnet.Options{Seed: seed, Clock: clk})
//	a, b := net.Endpoint("a"), net.Endpoint("b")
//	net.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"})
//
// Every message is encoded to a frame and decoded again with the real wire
// codec, so codec bugs show up in memnet tests and a receiver never shares
// memory with its sender (the marshal-copy of etcd's rafttest network).
//
// # Faults
//
// A message from one node to another meets the faults in this order: a
// partition or isolation cutting the link drops it silently; then the
// link's drop probability (drawn from the network's seeded RNG); then an
// endpoint that is not running (never created, or closed) refuses it, which
// the sender sees at once as transport.ErrUnreachable (like a refused TCP
// connection); then the Hook decides Deliver, Drop or Hold; then the link's
// delay, if any, schedules the delivery on the clock. Faults are decided
// when a message is sent; a message delayed or held is delivered even if a
// partition is set in the meantime (it was already on the wire). Messages
// from a node to itself skip partitions, drops and delays but meet the hook.
// Responses travel like requests: a partition set while a request is being
// handled drops the response.
//
// # Time and deadlines
//
// A Call's deadline runs on the network's Clock: a deadline made on that
// clock (clock.WithTimeout, read with clock.DeadlineOn), else the
// context's wall-clock deadline read as a duration from the moment of the
// call (time.Until), else Options.CallTimeout; the call fails with
// context.DeadlineExceeded when the clock has advanced that far, and the
// request tells the handling side that duration (its TimeoutMillis). With a
// clock.Manual the test decides when that is: a call to a partitioned peer
// blocks until the test advances the clock past its deadline. The context
// itself still counts: cancelling it, or its deadline passing in real time,
// also ends the call. Handler contexts carry no deadline; they are
// cancelled when the handling endpoint closes.
//
// Handlers run in their own goroutines, as on TCP, so the network does not
// order deliveries beyond what the test makes explicit: release held
// messages one at a time and WaitIdle between them to observe an order.
// Wait and WaitIdle block on channels only, so memnet also works inside a
// testing/synctest bubble with the real clock.
//
// # Stepped delivery
//
// SetStepped(true) turns the network into a queue: a message that has met
// its faults waits until DeliverNext hands it over, one at a time, in a
// canonical order (sender, receiver, type, requests before responses,
// body) that does not depend on which goroutine sent first. A test that
// waits for every goroutine to finish what a delivery started before it
// delivers the next (synctest.Wait) gets the same deliveries in the same
// order on every run; internal/testcluster's Options.Stepped and the
// scenario files of internal/scenario run so (see stepped.go).
//
// # Crashes
//
// Closing an endpoint is a process crash: its calls in flight fail with
// transport.ErrClosed, calls it was handling fail at their callers with
// transport.ErrConnLost, and messages to it are refused until
// Network.Endpoint creates a new endpoint for the same name (a restart;
// handlers must be registered again). Close does not wait for the
// endpoint's running handlers; their responses are discarded.
//
// Callers: the transport's own tests, internal/testcluster and (through
// it) internal/scenario.
package memnet
