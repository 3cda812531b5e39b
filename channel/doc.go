// Package channel is Pyre's channel API: what Phoenix's Phoenix.Channel is.
//
// An application implements [Handler] (Join) and any of [InHandler]
// (client pushes), [OutHandler] (intercepted broadcasts), [InfoHandler]
// (messages sent to the channel) and [Terminator], and registers a
// constructor for it on a topic pattern with the socket package. Each joined
// (connection, topic) gets its own Handler value and runs its callbacks one at
// a time in its own goroutine, with its own mailbox.
//
// # Replies
//
// [Push.Reply] answers a client push; [Push.ReplyRef] keeps a handle to
// answer later from any goroutine, like Phoenix's socket_ref.
//
// # Broadcasts
//
// [Socket.Broadcast] and [Socket.BroadcastFrom] go through the PubSub. An
// event the handler does not intercept is encoded once per serializer and
// written to each subscriber's connection without waking its channel.
//
// # Crashes
//
// A callback that panics or returns an error other than [ErrStop] crashes
// the channel: the panic is logged with its stack, Terminate runs, and the
// client gets phx_error for that topic. The connection and its other
// channels go on.
package channel
