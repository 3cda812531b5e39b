// Package redis is the Redis [pubsub.Adapter]: the nodes of an app, each
// a [pubsub.PubSub] in its own process, share their broadcasts through
// Redis Pub/Sub.
//
// # Where to start
//
// [New] returns an [Adapter] configured by [Options]; put it in
// [pubsub.Options], one adapter per node:
//
//	a, err := redis.New(&redis.Options{Redis: &goredis.Options{Addr: "redis:6379"}})
//	if err != nil {
//		return err
//	}
//	ps, err := pubsub.New(ctx, &pubsub.Options{Node: "web-1", Adapter: a})
//
// pubsub.New starts the adapter: it connects and returns an error if
// Redis cannot be reached. PubSub.Close closes it. [Adapter.Stats]
// returns counters for metrics.
//
// # Options
//
// The connection is go-redis's: [Options].Redis takes a
// *redis.Options of github.com/redis/go-redis/v9 with the address,
// credentials, DB, TLS and timeouts, and go-redis's ParseURL builds one
// from a redis:// or rediss:// URL. Prefix keeps apart the apps that share
// one Redis. Codec replaces the wire format. PublishTimeout, QueueSize and
// QueueBytes bound what a broadcast may wait for and what may wait to be
// published.
//
// # Redis channels
//
// With the default codec ([BinaryCodec]) and prefix "pyre":
//
//   - "pyre:t:" + topic carries the broadcasts of a topic. A node
//     subscribes to it while it has local subscribers of the topic
//     (Watch, Unwatch), so it receives only the topics it needs. The
//     subscription is confirmed by a PING sent after it on the same
//     connection: when Redis answers, the channel Watch returned is
//     closed ([pubsub.Subscription.Ready]), and a joining channel sends
//     its join reply. That is one round trip, on the first subscriber of
//     a topic on a node only.
//   - "pyre:n:" + node carries the direct broadcasts to a node, which
//     subscribes to it from Start (confirmed before Start returns) to
//     Close. A direct broadcast that no client receives returns
//     [pubsub.ErrUnknownNode].
//
// Every message is one PUBLISH, whatever the number of nodes and
// subscribers. A [Codec] may name channels differently, such as one
// channel per app: the adapter subscribes to each channel once and drops
// the messages that are not for its node.
//
// # Failures
//
// Redis going away does not stop a node. Local delivery goes on, as the
// PubSub does it before calling the adapter, and [Adapter.Broadcast]
// never waits for the network: it queues the encoded message for one
// publishing goroutine, which sends the queue in pipelined batches, in
// order. When Redis cannot be reached, or the queue is full, broadcasts
// are dropped: counted in [Stats].Dropped, and logged once when the drops
// start ("redis unreachable: broadcasts dropped", with the count and the
// time) and once when publishing resumes, with the total, never once per
// message. Broadcast returns nil meanwhile, as a network partition is
// silent; [Adapter.DirectBroadcast], which waits for its PUBLISH (at
// most PublishTimeout), returns [ErrUnavailable]. Nothing is stored for
// later: messages sent during an outage are lost, as with Redis Pub/Sub
// itself, and the presence tracker, for one, repairs its state by itself.
//
// The subscription connection reconnects with a growing delay (50 ms up
// to MaxReconnectDelay) and subscribes again to the node's channel and to
// every watched topic, including those watched during the outage; a
// connection gone silent is found by a PING every HealthCheckInterval.
// Each outage is logged once, and its end once. While the subscription
// connection is down, or the publisher finds Redis unreachable, Watch
// returns no channel to wait for, and the channels of the watches not
// confirmed yet are closed when the connection is lost: joins do not wait
// for a Redis that is away.
//
// # Concurrency
//
// All methods of [Adapter] are safe for concurrent use. Broadcast,
// DirectBroadcast, Watch and Unwatch only encode and queue; the network
// is used by three goroutines of the adapter, which Close stops and waits
// for: one reads the subscription connection and hands messages to the
// PubSub, in the order Redis sends them, and confirms watches; one
// applies Watch and Unwatch, in order; one publishes. Close closes the
// channels of the watches not confirmed yet. After Close, broadcasts return
// [pubsub.ErrClosed] and no message is handed to the PubSub. A [Codec]
// is called from all of these goroutines and from the broadcasters.
package redis
