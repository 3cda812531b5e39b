// Package nats is a [pubsub.Adapter] that links the nodes of a Pyre
// cluster through NATS (core NATS, no JetStream), as Phoenix.PubSub's
// Redis and distributed Erlang adapters link Phoenix nodes.
//
// # Where to start
//
// [New] returns an [Adapter]; give it to [pubsub.New], which starts it
// (the adapter connects to NATS then) and which [pubsub.PubSub.Close]
// closes:
//
//	a, err := nats.New(&nats.Options{URL: "nats://127.0.0.1:4222"})
//	if err != nil {
//		return err
//	}
//	ps, err := pubsub.New(ctx, &pubsub.Options{Node: "web-1", Adapter: a})
//
// Each node gives its PubSub its own adapter and its own name; all nodes
// use the same NATS servers and [Options].Prefix. [Options].NATS passes
// nats.go's options through, for TLS, authentication and reconnection.
// [Adapter.Stats] returns the adapter's counters.
//
// # Subjects
//
// Every subject starts with the prefix ("pyre" by default), then a token
// for the kind, then the name, base64url-encoded (without padding) so
// that any topic or node name makes a valid subject ('.', '*', '>',
// spaces, NUL):
//
//	pyre.t.<topic>   the broadcasts of a topic
//	pyre.n.<node>    the direct broadcasts to a node
//
// A name longer than 192 bytes, or empty, is replaced by its SHA-256
// ("pyre.th." and "pyre.nh."); the message carries the exact topic, which
// the receiving node delivers by. A node subscribes to its own node
// subject in Start (and flushes, so that a direct broadcast works as soon
// as Start returns), and to the subject of each topic it watches: it
// receives only the topics it has subscribers for. A broadcast is one
// NATS publication, which the server fans out, whatever the number of
// nodes and subscribers.
//
// # Wire format
//
// A message is one NATS message whose body holds, in a compact versioned
// binary encoding, the origin node, the topic, the event, the payload kind
// (JSON or binary) and the payload; no NATS headers. A node drops, counts
// ([Stats].Malformed) and logs (at most once a minute) what it cannot
// decode, including a later version of the encoding: upgrade every node
// before one sends a new version.
//
// # Message size
//
// A message larger than the server's max_payload (1 MB by default) is
// not sent: Broadcast returns [ErrTooLarge], after the local delivery.
// Raise max_payload in the nats-server configuration to carry larger
// messages ("max_payload: 8MB"; NATS advises against more than 8 MB).
// The adapter does not split messages.
//
// # Failure
//
// Broadcasts never wait for NATS: Broadcast and DirectBroadcast encode the
// message and queue it for the adapter's writer goroutine, and return.
// While NATS is unreachable, local delivery goes on as usual (the PubSub
// does it before calling the adapter), and nats.go keeps the publications
// in its reconnect buffer (8 MiB by default) and sends them once
// reconnected; past it, or past [Options].MaxPending while the connection
// is stalled, broadcasts are dropped and counted ([Stats].Dropped), and
// Broadcast returns nil, as a partition is silent. The adapter logs each
// episode twice: a warning when it starts ("nats unreachable", or "nats:
// dropping broadcasts" while connected), and a summary with the number of
// broadcasts dropped when it ends ("nats reachable again" on
// reconnection, "nats caught up" after 5 s without a drop); never a line
// per message.
//
// The connection reconnects for ever, with a backoff from 100 ms to 2 s,
// and nats.go subscribes again to the node subject and every watched
// topic. Broadcasts that reach the server while a node is disconnected do
// not reach that node: core NATS keeps nothing. Presence repairs its state
// by itself, and a node gone for longer than presence's DownPeriod leaves
// the others' lists, as in Phoenix.
//
// DirectBroadcast returns nil for a node that does not exist: core NATS
// cannot tell without a round trip.
//
// # Concurrency
//
// All methods of [Adapter] are safe for concurrent use; the [pubsub.PubSub]
// calls them as its documentation says. Broadcast, DirectBroadcast, Watch
// and Unwatch only queue work; the adapter's writer goroutine publishes
// and (un)subscribes, in the order queued, which keeps the order of a
// node's broadcasts and of a topic's watches and unwatches. Its reader
// goroutine hands the messages from other nodes to the PubSub one at a
// time, in the order they arrived: [pubsub.Subscriber.Deliver] runs there
// for them. nats.go runs the connection's handlers on its own goroutine.
// Close ends them all.
package nats
