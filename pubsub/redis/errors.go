package redis

import (
	"errors"
	"fmt"

	"github.com/pyrehq/pyre/pubsub"
)

// Sentinel errors. The adapter and the codecs wrap them with detail, so
// test for them with [errors.Is].
var (
	// ErrUnavailable is returned by [Adapter.DirectBroadcast] when the
	// message cannot be published now: Redis is unreachable, or the
	// publish queue is full. The message is dropped and counted
	// ([Stats].Dropped). Broadcasts are dropped the same way, but
	// [Adapter.Broadcast] returns nil: see the package documentation.
	// It wraps [pubsub.ErrUnavailable].
	ErrUnavailable = fmt.Errorf("redis: cannot publish now: %w", pubsub.ErrUnavailable)

	// ErrInvalidMessage is returned by [Codec] Decode for data that is
	// not a message of the codec: truncated, of an unknown version, with
	// a length past its end. The adapter drops such a publication and
	// counts it ([Stats].Invalid).
	ErrInvalidMessage = errors.New("redis: invalid message")

	// ErrSkip is returned by [Codec] Decode for a well-formed publication
	// that carries no message for the PubSub, such as another framework's
	// traffic on a channel the codec shares with it. The adapter drops it
	// silently: it is neither received nor invalid.
	ErrSkip = errors.New("redis: not a pubsub message")
)
