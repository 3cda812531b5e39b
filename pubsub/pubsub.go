package pubsub

import (
	"context"
	"sync"

	"github.com/pyrehq/pyre/protocol"
)

// Message is one broadcast: an event and its payload on a topic. A Message
// handed to [Subscriber.Deliver] is shared by every subscriber and must be
// treated as read-only.
type Message struct {
	Topic   string
	Event   string
	Payload protocol.Payload

	// From is the subscriber that sent the message with BroadcastFrom and
	// that must not receive it, or nil.
	From Subscriber

	frames [protocol.NumSerializers]encoded
}

type encoded struct {
	once  sync.Once
	frame protocol.Frame
	err   error
}

// Frame returns the message encoded as a fastlane broadcast
// ([null, null, topic, event, payload]) by s. It is encoded once per
// serializer, the first time a subscriber asks, and the same bytes are
// returned to every later caller: they must not be modified.
// Frame is safe for concurrent use.
func (m *Message) Frame(s protocol.Serializer) (protocol.Frame, error) {
	e := &m.frames[protocol.Index(s)]
	e.once.Do(func() {
		var data []byte
		data, e.frame.Binary, e.err = s.AppendBroadcast(make([]byte, 0, frameSize(m)), m.Topic, m.Event, m.Payload)
		e.frame.Data = data
	})
	return e.frame, e.err
}

func frameSize(m *Message) int {
	return len(m.Topic) + len(m.Event) + len(m.Payload.Bytes()) + 24
}

// Subscriber receives the messages broadcast on the topics it subscribed to.
//
// Deliver is called from the broadcasting goroutine, possibly concurrently
// for different messages. It must not block and must not call back into the
// PubSub (subscribe or unsubscribe): hand the message off and return.
type Subscriber interface {
	Deliver(m *Message)
}

// SubscriberFunc adapts a function to the Subscriber interface. Compare
// subscribers by pointer: use a *SubscriberFunc.
type SubscriberFunc func(m *Message)

// Deliver calls f(m).
func (f *SubscriberFunc) Deliver(m *Message) { (*f)(m) }

// PubSub delivers messages to the subscribers of a topic, on this node and,
// for implementations that span several nodes, on every node. Broadcast
// reaches every subscriber including the sender; BroadcastFrom skips one.
//
// All methods are safe for concurrent use.
type PubSub interface {
	// Subscribe adds s to topic. Subscribing s to the same topic again
	// changes nothing: it is delivered each message once.
	Subscribe(topic string, s Subscriber)
	// Unsubscribe removes s from topic. Unknown subscriptions are ignored.
	Unsubscribe(topic string, s Subscriber)

	// Broadcast delivers m to every subscriber of m.Topic on every node.
	Broadcast(ctx context.Context, m *Message) error
	// LocalBroadcast delivers m to the subscribers of m.Topic on this node.
	LocalBroadcast(m *Message)
	// DirectBroadcast delivers m to the subscribers on the named node only.
	DirectBroadcast(ctx context.Context, node string, m *Message) error

	// Node is this node's name, unique in the cluster.
	Node() string
}
