package channel

import (
	"context"

	"github.com/pyrehq/pyre/protocol"
)

// Handler is a channel implementation: Phoenix's channel module. A new
// Handler is made (by the route's constructor, see socket.Server.Channel)
// for every join, so its fields are per-channel state, like a Phoenix
// socket's assigns. Implement any of [InHandler], [OutHandler],
// [InfoHandler] and [Terminator] beside it.
//
// Every callback gets the channel's context (canceled when the channel
// ends) and its [Socket]. Join runs in the connection's reader goroutine;
// the other callbacks run in the channel's own goroutine, one at a time
// and in the order their messages arrived, so a Handler needs no locking
// for its own fields. A callback that panics is recovered: the panic is
// logged with its stack, Terminate runs and the client gets phx_error for
// this topic only.
type Handler interface {
	// Join decides whether the client may join topic. Returning a nil error
	// accepts the join; reply, when not nil, is the join reply's response.
	// Returning an error refuses it: a [*JoinError] (see [Refuse]) sends its
	// response, any other error sends {"reason": err.Error()}; a refused
	// join has no Terminate.
	//
	// The connection reads nothing else until Join returns, as in Phoenix.
	// Pushes are not possible inside Join (the join reply must come
	// first): call s.Send to run work in HandleInfo right after the join,
	// as Phoenix apps send themselves :after_join.
	Join(ctx context.Context, s *Socket, topic string, payload protocol.Payload) (reply any, err error)
}

// InHandler handles the events a client pushes (Phoenix's handle_in).
// Reply with msg.Reply, now or later (msg.ReplyRef, from any goroutine),
// or not at all. A returned error stops the channel: [ErrStop] (or an
// error wrapping it) stops it normally and the client gets phx_close; any
// other error is a crash and the client gets phx_error.
//
// A channel whose Handler is not an InHandler crashes on the first push,
// as a Phoenix channel without a matching handle_in clause does; the log
// line says that HandleIn is missing.
type InHandler interface {
	HandleIn(ctx context.Context, s *Socket, msg *Message) error
}

// OutHandler intercepts broadcasts (Phoenix's intercept + handle_out).
// Events listed by Intercept (asked once, after Join) are handed to
// HandleOut instead of going straight to the client, for this channel
// only; HandleOut usually calls s.Push, or drops the event by returning
// nil without pushing. Every other event takes the fast lane: encoded
// once per serializer and written to the client without waking the
// channel.
type OutHandler interface {
	Intercept() []string
	HandleOut(ctx context.Context, s *Socket, event string, payload protocol.Payload) error
}

// InfoHandler receives the messages sent with [Socket.Send] and, as
// [Broadcast] values, the broadcasts of the topics subscribed with
// [Socket.Subscribe] (Phoenix's handle_info). Errors stop the channel as
// for HandleIn. Messages for a channel without HandleInfo are dropped
// with a warning.
type InfoHandler interface {
	HandleInfo(ctx context.Context, s *Socket, msg any) error
}

// Terminator is told why the channel ended (Phoenix's terminate): reason
// is [ErrLeft], [ErrClosed], [ErrDisconnected], [ErrShutdown],
// [ErrDuplicateJoin], the error a callback returned, or a [*PanicError].
// Pushes made here reach the client when its connection is still open.
// It runs once for every channel whose join succeeded.
type Terminator interface {
	Terminate(ctx context.Context, s *Socket, reason error)
}
