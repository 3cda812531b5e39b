// Package channel is what a Pyre application writes its channels
// against: Phoenix's Phoenix.Channel, in Go.
//
// # Where to start
//
// Implement [Handler] (Join) and any of [InHandler] (client pushes),
// [OutHandler] (intercepted broadcasts), [InfoHandler] (messages sent to
// the channel, and broadcasts of topics it subscribed to) and
// [Terminator], and register a constructor for it on a topic pattern with
// socket.Server.Channel. Each joined (connection, topic) gets its own
// Handler value and its own [Socket], the handle every callback receives.
//
// # Replies
//
// [Message.Reply] answers a client push; [Message.ReplyRef] keeps a
// handle to answer later from any goroutine, like Phoenix's socket_ref.
// A join's reply is what Join returns.
//
// # Broadcasts and subscriptions
//
// [Socket.Broadcast] and [Socket.BroadcastFrom] go through the PubSub to
// every subscriber of the channel's topic, on every node. An event the
// handler does not intercept is encoded once per serializer and written
// to each subscriber's connection without waking its channel (Phoenix's
// fast lane). [Socket.Subscribe] subscribes the channel to other topics:
// their broadcasts reach HandleInfo as [Broadcast] values, and the
// subscription ends with the channel.
//
// # Ending
//
// A callback returns [ErrStop] to stop the channel normally (the client
// gets phx_close). A callback that panics or returns another error
// crashes the channel: the panic is logged with its stack, Terminate
// runs, and the client gets phx_error for that topic and rejoins. The
// connection and its other channels go on. [Terminator.Terminate] is
// told why a channel ended; [IsNormal] tells the two kinds apart.
//
// # Concurrency
//
// Join runs in the connection's reader goroutine: the connection reads
// nothing else until it returns. Every other callback of a channel runs
// in the channel's own goroutine, one at a time and in the order its
// messages arrived, so a Handler needs no locks for its own fields. The
// methods of [Socket] and [ReplyRef] may be called from any goroutine;
// Socket.Assigns belongs to the callbacks.
package channel
