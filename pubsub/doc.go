// Package pubsub delivers broadcasts to the subscribers of a topic, on one
// node or across a cluster: the fan-out under Phoenix's Endpoint.broadcast
// and channel broadcasts, modelled on Phoenix.PubSub.
//
// # Where to start
//
// [New] returns a [PubSub]. [PubSub.Subscribe] registers a [Subscriber] on
// a topic and returns a [Subscription], which [Subscription.Unsubscribe]
// ends. [PubSub.Broadcast] delivers a [Message] to every subscriber of its
// topic on every node, [PubSub.LocalBroadcast] on this node only, and
// [PubSub.DirectBroadcast] on one named node. [Message.From] spares one
// subscription (Phoenix's broadcast_from). A Message caches its encoded
// broadcast frame per serializer ([Message.Frame]), so a broadcast to many
// sockets is encoded once per serializer, never once per subscriber.
//
// # Nodes and adapters
//
// Each PubSub is a node with a name ([Options].Node). Alone, it delivers
// to its own subscribers. With an [Adapter] (Redis, NATS, or the in-memory
// [Cluster] for tests), a broadcast also reaches the other nodes: the
// PubSub delivers to its local subscribers, then hands the message to the
// adapter, which sends it to the nodes that watch the topic. A node
// watches the topics it has local subscribers of: the PubSub tells the
// adapter when a topic gains its first one ([Adapter.Watch]) and loses its
// last ([Adapter.Unwatch]). A node that receives a message from another
// delivers it to all its subscribers of the topic.
//
// # Rules for subscribers
//
// [Subscriber.Deliver] runs in the goroutine that broadcast the message,
// for broadcasts made on this node, or in the adapter's receiving
// goroutine, for messages from other nodes; with [Cluster], that is the
// broadcaster's goroutine on the other node. It may run concurrently for
// different messages, and it runs while the PubSub holds a read lock on
// the topic's part of its registry. So Deliver:
//
//   - must not block: it hands the message off (a buffered channel, a
//     queue) and returns; a slow subscriber delays every other one;
//   - must not call a PubSub: Subscribe, Unsubscribe and Close would
//     deadlock on the lock held, and a broadcast may too;
//   - must treat the Message as shared and read-only: every subscriber of
//     the node gets the same pointer, which it may keep, and the Payload
//     bytes must not be modified. [Message.Frame] is safe to call.
//
// A message broadcast on this node reaches every local subscription of its
// topic except [Message.From]. A message from another node reaches every
// local subscription of its topic. A subscription made while a broadcast
// is in flight may or may not get it; a new topic's subscriptions start
// getting broadcasts from other nodes once the adapter's watch has reached
// its broker, which [Subscription.Ready] tells: a channel closed from
// then on (at once without an adapter, or for a topic already watched).
// Subscribing the same Subscriber twice makes two subscriptions, and each
// message is delivered twice.
//
// # Rules for adapters
//
// An [Adapter] carries messages, the PubSub delivers them. An adapter:
//
//   - sends a broadcast to every other node that watches its topic, and a
//     direct broadcast to the named node only, whatever it subscribes;
//   - carries Topic, Event, Payload (bytes and kind) and Origin, never
//     From, and keeps nothing of the Message once the call returns;
//   - hands each message that reaches its node to the recv function given
//     to [Adapter.Start], once, with Origin set, and does not use it
//     afterwards; recv fills nothing in: it delivers, in the order the
//     adapter hands messages over, and drops the messages whose Origin is
//     this node (a broker that echoes publications back);
//   - keeps the order of the broadcasts this node makes on a topic one
//     after the other, at each receiving node;
//   - makes direct broadcasts to the node work as soon as Start returns;
//   - queues Watch and Unwatch, which are called in order with a lock held,
//     and applies them in that order, without blocking and without calling
//     the PubSub;
//   - closes the channel Watch returns once the broker has the watch (a
//     round trip after the subscription, confirmed by the broker), or at
//     once when it knows the broker cannot be reached (the watch then
//     takes effect when the broker is back), and by the time Close returns
//     in any case; nil means the watch has taken effect already. With a
//     topic watched, unwatched and watched again before a confirmation,
//     the last channel waits for the last subscription;
//   - does not call recv after Close returns, nor while holding a lock
//     that Watch or Unwatch take;
//   - never makes a broadcast wait long on the broker, whatever ctx says
//     (a channel's ctx has no deadline): it queues, bounded, and sends
//     from a goroutine of its own;
//   - treats a broadcast to other nodes as best effort: a message it
//     cannot carry (broker unreachable, queue full) is dropped, counted
//     and logged once per outage, not once per message, and Broadcast
//     returns nil, so that local delivery and the caller go on; a
//     DirectBroadcast that cannot be carried returns an error wrapping
//     [ErrUnavailable];
//   - on Close, sends what Broadcast already accepted, within Close's ctx
//     (presence says goodbye just before its PubSub closes).
//
// Package pubsubtest runs the cases an adapter must pass
// (pubsubtest.TestAdapter); call it from the adapter's tests.
//
// # Concurrency
//
// Every method of [PubSub], [Subscription], [Message] (Frame),
// [Cluster] and [ClusterAdapter] is safe for concurrent use, except from
// inside Deliver as said above. A PubSub starts no goroutines; deliveries
// run in the goroutines of the callers and of the adapter.
package pubsub
