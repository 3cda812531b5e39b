package channel

import (
	"context"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// Socket is a joined channel as its handler sees it: the topic, the
// connection's assigns and the ways to talk to the client and the topic.
//
// Assigns belongs to the channel's goroutine. The other methods are safe
// for concurrent use.
type Socket struct {
	// Assigns starts as a copy of the connection's assigns (set by the
	// socket's Connect callback) and is the channel's to change.
	Assigns map[string]any

	ch      *Channel
	joinRef protocol.Ref
}

// Topic is the channel's topic.
func (s *Socket) Topic() string { return s.ch.cfg.Topic }

// JoinRef is the join_ref carried by this channel's frames.
func (s *Socket) JoinRef() protocol.Ref { return s.joinRef }

// ID is the connection's socket id, "" when anonymous.
func (s *Socket) ID() string { return s.ch.cfg.Conn.ID() }

// Transport names the connection's transport: "websocket" or "longpoll".
func (s *Socket) Transport() string { return s.ch.cfg.Conn.Transport() }

// Push sends event to this client only: [join_ref, null, topic, event,
// payload]. With the V2 serializer payload must encode to a JSON object (or
// be a binary protocol.Payload); the error says when it does not, and
// returning it from a callback crashes the channel, as in Phoenix.
func (s *Socket) Push(event string, payload any) error {
	if !s.ch.open.Load() || s.ch.muted.Load() || s.ch.done.Load() {
		return ErrNotJoined
	}
	p, err := ToPayload(payload)
	if err != nil {
		return err
	}
	conn := s.ch.cfg.Conn
	m := protocol.Message{JoinRef: s.joinRef, Topic: s.ch.cfg.Topic, Event: event, Payload: p}
	data, bin, err := conn.Serializer().AppendMessage(nil, &m)
	if err != nil {
		return err
	}
	if !conn.Send(protocol.Frame{Data: data, Binary: bin}) {
		return ErrNotJoined
	}
	return nil
}

// Broadcast sends event to every subscriber of the topic, on every node,
// this client included. payload must encode to a JSON object or be binary.
func (s *Socket) Broadcast(ctx context.Context, event string, payload any) error {
	return s.broadcast(ctx, event, payload, nil)
}

// BroadcastFrom is Broadcast except that this channel's client does not get it.
func (s *Socket) BroadcastFrom(ctx context.Context, event string, payload any) error {
	return s.broadcast(ctx, event, payload, s.ch)
}

func (s *Socket) broadcast(ctx context.Context, event string, payload any, from pubsub.Subscriber) error {
	m, err := NewMessage(s.ch.cfg.Topic, event, payload)
	if err != nil {
		return err
	}
	m.From = from
	return s.ch.cfg.PubSub.Broadcast(ctx, m)
}

// Subscriber is the channel's PubSub subscriber, for
// socket.Server.BroadcastFrom.
func (s *Socket) Subscriber() pubsub.Subscriber { return s.ch }

// Send queues msg for the channel's HandleInfo, from any goroutine. It
// reports false when the channel has ended.
func (s *Socket) Send(msg any) bool { return s.ch.send(msg) }

// Context is the channel's context, canceled when the channel ends.
func (s *Socket) Context() context.Context { return s.ch.ctx }

// NewMessage builds a broadcast, checking that payload is a JSON object or
// binary as every serializer requires of broadcasts.
func NewMessage(topic, event string, payload any) (*pubsub.Message, error) {
	p, err := ToPayload(payload)
	if err != nil {
		return nil, err
	}
	if !p.IsBinary() && !p.IsObject() {
		return nil, protocol.ErrPayloadNotObject
	}
	return &pubsub.Message{Topic: topic, Event: event, Payload: p}, nil
}

// Push is a message the client pushed to the channel.
type Push struct {
	Event   string
	Payload protocol.Payload
	// Ref is the message's ref; null when the client expects no reply.
	Ref protocol.Ref

	ch *Channel
}

// Reply answers this push with status ("ok", "error" or any other status
// the client matches with receive) and a response (nil is {}). Replies
// to a push without a ref are dropped.
func (p *Push) Reply(status string, response any) error {
	return p.ReplyRef().Reply(status, response)
}

// ReplyRef returns a handle to answer this push later, from any goroutine
// (Phoenix's socket_ref).
func (p *Push) ReplyRef() ReplyRef {
	return ReplyRef{conn: p.ch.cfg.Conn, topic: p.ch.cfg.Topic, joinRef: p.ch.sock.joinRef, ref: p.Ref}
}

// ReplyRef answers a client push later. It is a small value, safe to copy
// and to use from any goroutine; the reply is written even if the channel
// has ended meanwhile, as long as the connection is open. Several replies
// may be sent; the client uses the first.
type ReplyRef struct {
	conn    Conn
	topic   string
	joinRef protocol.Ref
	ref     protocol.Ref
}

// Reply sends {"status": status, "response": response}.
func (r ReplyRef) Reply(status string, response any) error {
	if r.conn == nil || r.ref.IsNull() {
		return nil
	}
	p, err := ToPayload(response)
	if err != nil {
		return err
	}
	rep := protocol.Reply{JoinRef: r.joinRef, Ref: r.ref, Topic: r.topic, Status: status, Response: p}
	data, bin, err := r.conn.Serializer().AppendReply(nil, &rep)
	if err != nil {
		return err
	}
	if !r.conn.Send(protocol.Frame{Data: data, Binary: bin}) {
		return ErrNotJoined
	}
	return nil
}
