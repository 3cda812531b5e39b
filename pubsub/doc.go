// Package pubsub delivers broadcasts to the subscribers of a topic: the
// fan-out under Phoenix's Endpoint.broadcast and channel broadcasts.
//
// [PubSub] is the extension point: [Local] is the in-process implementation,
// and adapters that span several nodes (Redis, NATS) implement the same
// interface. A [Message] caches its encoded broadcast frame per serializer
// ([Message.Frame]), so a broadcast to many sockets is encoded once per
// serializer, never once per subscriber.
//
// [Cluster] links several in-process nodes, each a [ClusterNode] with its
// own name: Broadcast on one reaches the subscribers of every connected
// node, DirectBroadcast one named node, as a multi-node adapter would. It
// serves tests and examples of multi-node features (presence), with
// [ClusterNode.Disconnect] to cut a node off.
//
// # Concurrency
//
// Every method of [Local] is safe for concurrent use. Broadcasts deliver in
// the caller's goroutine; [Subscriber.Deliver] must hand the message off
// without blocking and without calling back into the PubSub.
package pubsub
