package channel

import (
	"context"

	"github.com/pyrehq/pyre/internal/chanlink"
	"github.com/pyrehq/pyre/protocol"
)

// Socket is a joined channel as its handler sees it, Phoenix's socket in
// a channel: the topic, the connection's assigns and the ways to talk to
// the client and to the topic. Pyre makes one for each join and passes it
// to every callback of that channel.
//
// Assigns belongs to the channel's callbacks, which run one at a time.
// The methods are safe for concurrent use, from any goroutine.
type Socket struct {
	// Assigns starts as a copy of the connection's assigns (set by the
	// socket's Connect callback) and is the channel's to change.
	Assigns map[string]any

	c chanlink.Channel
}

// Topic is the channel's topic.
func (s *Socket) Topic() string { return s.c.Topic() }

// JoinRef is the join_ref carried by this channel's frames: the client's,
// or the join's ref when the client sent none (V1).
func (s *Socket) JoinRef() protocol.Ref { return s.c.JoinRef() }

// ID is the connection's socket id (socket.Options.ID), "" when anonymous.
func (s *Socket) ID() string { return s.c.ID() }

// Transport names the connection's transport: "websocket" or "longpoll".
func (s *Socket) Transport() string { return s.c.Transport() }

// Context is the channel's context, canceled when the channel ends for
// any reason. It is also the ctx every callback gets.
func (s *Socket) Context() context.Context { return s.c.Context() }

// Push sends event to this client only: [join_ref, null, topic, event,
// payload]. payload is nil ({}), a [protocol.Payload], a
// json.RawMessage, or any value encoding/json encodes. With the V2
// serializer it must be a JSON object or binary; returning that error
// from a callback crashes the channel, as in Phoenix. Push returns
// [ErrNotJoined] inside Join (the join reply must come first), after
// the channel has ended, and when the connection is closing.
func (s *Socket) Push(event string, payload any) error { return s.c.Push(event, payload) }

// Broadcast sends event to every subscriber of the channel's topic, on
// every node, this client included (Phoenix's broadcast). payload must
// be a JSON object or binary. Subscribers that do not intercept the event
// get a frame encoded once per serializer.
func (s *Socket) Broadcast(ctx context.Context, event string, payload any) error {
	return s.c.Broadcast(ctx, event, payload, false)
}

// BroadcastFrom is Broadcast except that this channel's client does not
// get it (Phoenix's broadcast_from).
func (s *Socket) BroadcastFrom(ctx context.Context, event string, payload any) error {
	return s.c.Broadcast(ctx, event, payload, true)
}

// Send queues msg for the channel's [InfoHandler.HandleInfo], behind the
// messages already queued (Phoenix's send(self(), msg)). It reports false
// when the channel has ended. Inside Join it is how a channel runs work
// right after the join reply, as Phoenix apps send themselves :after_join.
func (s *Socket) Send(msg any) bool { return s.c.Send(msg) }

// Subscribe subscribes the channel to another topic of the PubSub, as
// Phoenix's Endpoint.subscribe in a channel does: each broadcast on it
// reaches [InfoHandler.HandleInfo] as a [Broadcast], in order with the
// channel's other messages. The subscription ends with the channel,
// whatever ends it (a refused or crashed join included), or with
// Unsubscribe. Subscribing to a topic twice changes nothing. It may be
// called in Join; deliveries then wait for the join reply.
func (s *Socket) Subscribe(topic string) error { return s.c.Subscribe(topic) }

// Unsubscribe ends a subscription made with Subscribe.
func (s *Socket) Unsubscribe(topic string) { s.c.Unsubscribe(topic) }
