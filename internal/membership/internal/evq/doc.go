// Package evq is the event queue both membership implementations use to
// deliver membership.Event values without ever blocking the goroutine
// that produces them (memberlist's gossip loops, or the test driving the
// static network).
//
// Events go straight into a buffered channel while it has room. When it
// is full they wait in a queue holding at most one event per member (a
// newer event replaces the waiting one, and the replacement is counted)
// and a goroutine, running only while that queue is non-empty, feeds them
// into the channel as the consumer reads. Order is kept: an event is
// never sent before one pushed earlier that is still waiting, except that
// a replaced event takes the place of the one it replaced.
package evq
