package pubsub

import (
	"errors"
	"sync"

	"github.com/pyrehq/pyre/protocol"
)

var (
	// ErrUnknownNode is returned by [PubSub.DirectBroadcast] for a node
	// that cannot be reached: any node but this one when there is no
	// [Adapter], or a node the adapter knows it cannot reach.
	ErrUnknownNode = errors.New("pubsub: unknown node")

	// ErrClosed is returned by the methods of a [PubSub] after
	// [PubSub.Close], and by adapters used after their Close.
	ErrClosed = errors.New("pubsub: closed")

	// ErrUnavailable is wrapped by the error of a [PubSub.DirectBroadcast]
	// that could not be carried because the broker cannot be reached (or
	// the adapter's queue is full). Broadcasts do not return it: they are
	// best effort across nodes (see "Rules for adapters").
	ErrUnavailable = errors.New("pubsub: broker unavailable")
)

// errUnknownSerializer is returned by [Message.Frame] for a serializer
// other than [protocol.V1] and [protocol.V2].
var errUnknownSerializer = errors.New("pubsub: unknown serializer")

// Message is one broadcast: an event and its payload on a topic.
//
// A Message handed to [Subscriber.Deliver] is shared by every subscriber
// of its node and is read-only, Payload bytes included: a subscriber keeps
// the pointer or what it needs, and changes nothing. Broadcast methods may
// set Origin, so a Message must not be broadcast by two goroutines at
// once; it may be broadcast again once the first call has returned. A
// Message must not be copied (it holds its encoded frames).
type Message struct {
	Topic   string
	Event   string
	Payload protocol.Payload

	// From is the subscription that must not receive the message, or nil:
	// Phoenix's broadcast_from, which spares the sender its own broadcast.
	// It applies only on the node the message is broadcast on; adapters do
	// not carry it, and the other nodes deliver to all their subscribers.
	From *Subscription

	// Origin is the name of the node the message was broadcast on. The
	// broadcast methods of [PubSub] set it to this node's name when it is
	// empty, adapters carry it, and messages from other nodes arrive with
	// it set. Leave it empty when building a Message: a message whose
	// Origin names another node is not delivered on that node, which takes
	// it for its own broadcast coming back.
	Origin string

	frames [2]encoded // By serializer: V1, V2.
}

// encoded is one serializer's encoding of a Message, made once.
type encoded struct {
	once  sync.Once
	frame protocol.Frame
	err   error
}

// Frame returns m encoded by s as a fastlane broadcast
// ([null, null, topic, event, payload]). It is encoded once per
// serializer, the first time a subscriber asks, and the same frame (or
// error) is returned to every later caller: its bytes must not be
// modified. s must be [protocol.V1] or [protocol.V2].
//
// Frame is safe for concurrent use.
func (m *Message) Frame(s protocol.Serializer) (protocol.Frame, error) {
	var e *encoded
	switch s {
	case protocol.V1:
		e = &m.frames[0]
	case protocol.V2:
		e = &m.frames[1]
	default:
		return protocol.Frame{}, errUnknownSerializer
	}
	e.once.Do(func() {
		e.frame.Data, e.frame.Binary, e.err = s.AppendBroadcast(make([]byte, 0, frameSize(m)), m.Topic, m.Event, m.Payload)
	})
	return e.frame, e.err
}

// frameSize is a guess at the size of m's frame, to allocate it once.
func frameSize(m *Message) int {
	return len(m.Topic) + len(m.Event) + len(m.Payload.Bytes()) + 24
}

// Subscriber receives the messages of the topics it subscribed to.
//
// Deliver runs in the goroutine that broadcast the message (on this node)
// or in the adapter's receiving goroutine (from another node), possibly
// concurrently for different messages, while a lock of the [PubSub] is
// held. It must hand the message off and return: not block, and not call
// a PubSub. The package documentation lists the rules.
type Subscriber interface {
	Deliver(m *Message)
}

// SubscriberFunc adapts a function to the [Subscriber] interface. A
// SubscriberFunc value is a Subscriber: subscriptions, not subscribers,
// are what a [PubSub] keeps apart, so functions need not be comparable.
type SubscriberFunc func(m *Message)

// Deliver calls f(m).
func (f SubscriberFunc) Deliver(m *Message) { f(m) }

// Subscription is one [PubSub.Subscribe] call: a subscriber on a topic
// of one PubSub. [Subscription.Unsubscribe] ends it. It also names the
// subscriber a broadcast skips ([Message.From]).
type Subscription struct {
	ps    *PubSub
	topic string

	// idx is the subscription's place in its topic's list, or -1 once
	// it has ended. The shard's lock must be held.
	idx int
}

// Topic returns the topic of the subscription.
func (s *Subscription) Topic() string { return s.topic }

// Ready returns a channel closed once the broadcasts of the topic made on
// other nodes reach the subscription: once the adapter's watch of the
// topic on this node has taken effect at the broker ([Adapter.Watch]). A
// broadcast that reaches the broker after that is delivered. Broadcasts
// made on this node reach it from Subscribe on.
//
// The channel is closed at once without an adapter, for a topic whose
// watch has taken effect already, and for an ended subscription; it is
// also closed when the adapter knows its broker cannot be reached (the
// watch then takes effect when the broker is back), and at the latest
// when the PubSub is closed. Every subscription of a topic made under one
// watch shares its channel. Ready allocates nothing.
//
// A channel joining a topic waits for Ready before its join reply, so a
// client that has its reply gets every broadcast made after it, from any
// node. Ready may be called from any goroutine, except from inside
// [Subscriber.Deliver].
func (s *Subscription) Ready() <-chan struct{} {
	if s == nil {
		return closedReady
	}
	sh := s.ps.shard(s.topic)
	sh.mu.RLock()
	ready := sh.ready[s.topic]
	ended := s.idx < 0
	sh.mu.RUnlock()
	if ready == nil || ended {
		return closedReady
	}
	return ready
}

// Unsubscribe ends the subscription. When it returns, the subscriber is
// not in a Deliver call for this subscription and will not be called for
// it again. Ending the last subscription of a topic on this node tells the
// adapter to stop watching the topic.
//
// Unsubscribe is idempotent, does nothing on a nil Subscription, and may
// be called from any goroutine, before or after [PubSub.Close], except
// from inside [Subscriber.Deliver], where it would deadlock.
func (s *Subscription) Unsubscribe() {
	if s != nil {
		s.ps.unsubscribe(s)
	}
}
