package pubsub

import "context"

// Adapter carries messages between the nodes of a cluster: through Redis,
// NATS, or in memory ([Cluster]). It is the network half of a [PubSub],
// which owns the local subscribers and calls the adapter; users only
// construct an adapter and put it in [Options].
//
// The PubSub calls Start once, from [New], before any other method (if
// Start fails, nothing else, Close included), and Close once, from
// [PubSub.Close]; after Close it calls Watch and Unwatch no more, but a
// Broadcast or DirectBroadcast may still be in progress or start, and
// must then fail (with [ErrClosed]) rather than panic. Every method may
// be called concurrently with the others. The package
// documentation gives the rules an adapter must follow ("Rules for
// adapters"); package pubsubtest checks them.
type Adapter interface {
	// Start connects the adapter as the node named node. From then on,
	// every message that reaches this node is handed to recv: the
	// broadcasts of the topics this node watches, and the direct
	// broadcasts to it, whatever its subscriptions. When Start returns,
	// direct broadcasts to node reach it.
	//
	// recv delivers the message to the local subscribers of its topic and
	// takes it over: the adapter must not use m after handing it over,
	// and must set its Origin to the node it was broadcast on. recv may be
	// called from any goroutine, concurrently; it does not block beyond
	// the local subscribers' Deliver calls, which do not block. recv
	// drops the messages whose Origin is this node (a broker that echoes
	// publications back to their publisher). recv must not be called
	// while holding a lock that Watch or Unwatch take.
	Start(ctx context.Context, node string, recv func(m *Message)) error

	// Broadcast sends m to every other node that watches m.Topic. It
	// carries Topic, Event, Payload (bytes and kind: JSON or binary) and
	// Origin, never From. It must return within ctx's deadline and must
	// not keep m, or its Payload bytes, after returning: encode it first.
	//
	// Two broadcasts of a topic by this node, the second called after the
	// first returned, must reach each node in that order.
	Broadcast(ctx context.Context, m *Message) error

	// DirectBroadcast sends m to the node named node only, whether or not
	// it watches m.Topic, with the same duties as Broadcast. It returns
	// [ErrUnknownNode] when the adapter knows node cannot be reached; an
	// adapter that cannot tell returns nil. node is never this node's
	// name: the PubSub delivers those itself.
	DirectBroadcast(ctx context.Context, node string, m *Message) error

	// Watch is called when this node gains its first local subscriber of
	// topic, Unwatch when it loses its last one: the adapter then
	// subscribes to the topic at its broker, or unsubscribes. The calls of
	// a topic come in order (Watch, Unwatch, Watch, ...), made with a lock
	// of the PubSub held: they must not block and must not call the
	// PubSub. An adapter queues the work and does it in order.
	//
	// A watch takes effect when the broker knows it: broadcasts that reach
	// the broker before may be missed. An unwatch that has taken effect
	// stops the topic's broadcasts from reaching recv.
	//
	// Watch returns a channel that the adapter closes once the watch has
	// taken effect (a broadcast of topic that reaches the broker after
	// that reaches recv), or once it knows the broker cannot be reached
	// at the moment: the watch then takes effect when the broker is back,
	// and nobody should wait for it meanwhile. nil means the watch has
	// taken effect already. The adapter closes every channel it returned
	// by the time Close returns, whatever happened to the watch since
	// (unwatched, refused by the broker), and never waits for a reader.
	// [Subscription.Ready] hands the channel to the subscribers of the
	// topic, and a joining channel waits for it before its join reply.
	Watch(topic string) <-chan struct{}
	Unwatch(topic string)

	// Close disconnects the node from the cluster and releases the
	// adapter's resources. recv is not called after Close returns.
	Close(ctx context.Context) error
}
