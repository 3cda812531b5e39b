package nats

import "errors"

var (
	// ErrTooLarge is returned by [Adapter.Broadcast] and
	// [Adapter.DirectBroadcast] for a message whose encoding is larger
	// than the NATS server's max_payload (1 MB unless its configuration
	// raises it). The message is not sent; local delivery has happened
	// anyway. The error wraps the sizes: raise max_payload in the
	// nats-server configuration (say, "max_payload: 8MB") to carry larger
	// messages.
	ErrTooLarge = errors.New("pubsub/nats: message larger than the server's max_payload")

	// errNotStarted is returned by the broadcasts of an adapter that has
	// not been started.
	errNotStarted = errors.New("pubsub/nats: adapter not started")

	// errQueueFull is the reason a broadcast is dropped when Options.MaxPending
	// bytes already wait for the connection.
	errQueueFull = errors.New("pubsub/nats: too many bytes waiting for the NATS connection")
)
