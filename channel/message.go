package channel

import (
	"github.com/pyrehq/pyre/internal/chanlink"
	"github.com/pyrehq/pyre/protocol"
)

// Message is an event the client pushed to the channel, for
// [InHandler.HandleIn] (Phoenix's handle_in(event, payload, socket)).
type Message struct {
	Event   string
	Payload protocol.Payload
	// Ref is the message's ref, echoed in the reply; null when the client
	// expects no reply.
	Ref protocol.Ref

	c chanlink.Channel
}

// Reply answers the message with status ("ok", "error" or any other
// status the client matches with receive) and a response (nil is {}):
// {"status": status, "response": response}. A message without a ref gets
// no reply: Reply then does nothing.
func (m *Message) Reply(status string, response any) error {
	return m.ReplyRef().Reply(status, response)
}

// ReplyRef returns a handle to answer this message later, from any
// goroutine (Phoenix's socket_ref).
func (m *Message) ReplyRef() ReplyRef { return ReplyRef{c: m.c, ref: m.Ref} }

// ReplyRef answers a client message later. It is a small value, safe to
// copy and to use from any goroutine. The reply is written even if the
// channel has ended meanwhile, as long as the connection is open, as in
// Phoenix. Several replies may be sent; the client uses the first.
type ReplyRef struct {
	c   chanlink.Channel
	ref protocol.Ref
}

// Reply sends {"status": status, "response": response}. It returns
// [ErrNotJoined] when the connection is gone, and nil without sending
// anything for a message that had no ref (or the zero ReplyRef).
func (r ReplyRef) Reply(status string, response any) error {
	if r.c == nil || r.ref.IsNull() {
		return nil
	}
	return r.c.Reply(r.ref, status, response)
}

// Broadcast is a broadcast on a topic the channel subscribed to with
// [Socket.Subscribe], as [InfoHandler.HandleInfo] receives it (Phoenix's
// %Phoenix.Socket.Broadcast{}).
type Broadcast struct {
	Topic   string
	Event   string
	Payload protocol.Payload
}

func init() {
	chanlink.NewSocket = func(c chanlink.Channel, assigns map[string]any) any {
		return &Socket{Assigns: assigns, c: c}
	}
	chanlink.NewMessage = func(c chanlink.Channel, event string, payload protocol.Payload, ref protocol.Ref) any {
		return &Message{Event: event, Payload: payload, Ref: ref, c: c}
	}
}
