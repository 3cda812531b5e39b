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
// encoded once per serializer, straight to the connection; until the join
// reply is queued, it holds them instead, and Activate sends them after
// the reply, in order. Activate waits, in the reader, for the topic's
// subscription to be ready on every node (ReadyTimeout at most) before
// the reply; nothing waits for it, and no lock is held meanwhile. Every
// method of Channel is safe for concurrent use.
package chanrt
