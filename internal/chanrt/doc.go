// Package chanrt runs channels: Phoenix's channel process. A [Channel] is
// one joined (connection, topic); package socket makes one per join and
// drives it (Join, Activate, HandleIn, Leave, Stop, Kill), and the
// application sees it through a *channel.Socket.
//
// # Concurrency
//
// Join runs in the caller's goroutine (the connection's reader). Every
// other callback runs on the channel's mailbox, a workq.Queue whose
// goroutine belongs to the connection's workq.Group: one at a time, in
// the order the messages arrived, started while the mailbox has work.
// Fast-lane broadcasts never enter the mailbox: Deliver writes the frame,
// encoded once per serializer, straight to the connection. Every method
// of Channel is safe for concurrent use.
package chanrt
