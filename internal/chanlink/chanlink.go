// Package chanlink links package channel, whose types handlers write
// against, to the runtime that drives them (internal/chanrt). Package
// channel owns Socket and Message but cannot import the runtime (the
// runtime imports channel for the handler interfaces), so the runtime
// implements [Channel] and makes channel's types through the constructors
// that package channel registers here when it is initialised. Nothing
// here changes after initialisation.
package chanlink

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// Channel is the runtime side of one joined channel, as a channel.Socket,
// a channel.Message and a channel.ReplyRef use it. Every method is safe
// for concurrent use.
type Channel interface {
	Topic() string
	// JoinRef is the join_ref written in the channel's frames.
	JoinRef() protocol.Ref
	ID() string
	Transport() string
	Context() context.Context
	Push(event string, payload any) error
	Broadcast(ctx context.Context, event string, payload any, excludeSelf bool) error
	Send(msg any) bool
	Subscribe(topic string) error
	Unsubscribe(topic string)
	// Reply answers the client message with ref, even after the channel
	// has ended, as long as the connection is open.
	Reply(ref protocol.Ref, status string, response any) error
}

// The constructors of package channel's types, registered by its init.
var (
	// NewSocket returns a *channel.Socket bound to c.
	NewSocket func(c Channel, assigns map[string]any) any
	// NewMessage returns a *channel.Message for a client push to c.
	NewMessage func(c Channel, event string, payload protocol.Payload, ref protocol.Ref) any
)

// Payload converts a reply or push value to a payload: nil is {}, a
// protocol.Payload or json.RawMessage is used as is, anything else is
// encoded with encoding/json.
func Payload(v any) (protocol.Payload, error) {
	switch v := v.(type) {
	case nil:
		return protocol.Payload{}, nil
	case protocol.Payload:
		return v, nil
	case json.RawMessage:
		return protocol.JSON(v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return protocol.Payload{}, fmt.Errorf("channel: cannot encode payload: %w", err)
	}
	return protocol.JSON(b), nil
}

// Broadcast builds a broadcast message, checking that payload is a JSON
// object or binary, as every serializer requires of broadcasts.
func Broadcast(topic, event string, payload any) (*pubsub.Message, error) {
	p, err := Payload(payload)
	if err != nil {
		return nil, err
	}
	if !p.IsBinary() && !p.IsObject() {
		return nil, fmt.Errorf("%w: %s event %q", protocol.ErrPayloadNotObject, topic, event)
	}
	return &pubsub.Message{Topic: topic, Event: event, Payload: p}, nil
}
