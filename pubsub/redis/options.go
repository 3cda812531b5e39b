package redis

import (
	"errors"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Options configure an [Adapter]. The zero value, like a nil *Options,
// connects to localhost:6379 with the defaults below.
type Options struct {
	// Redis configures the connections: Addr, Username and Password (or a
	// credentials provider), DB, TLSConfig, dial, read and write
	// timeouts, pool sizes, everything go-redis offers. Build it from a
	// URL ("rediss://user:pass@host:6380/0") with go-redis's
	// redis.ParseURL. If nil, go-redis's defaults: localhost:6379, no
	// authentication, no TLS.
	//
	// The adapter works on a copy. On it, it sets MaxRetries to -1, as a
	// PUBLISH retried after its reply was lost would be delivered twice
	// (a failed publish is dropped and counted instead), and
	// ContextTimeoutEnabled, so that PublishTimeout bounds each publish.
	// It supports a single Redis server (or a proxy to one): not Redis
	// Cluster or Sentinel.
	Redis *goredis.Options

	// Prefix starts the names of the Redis channels of the default codec
	// ([BinaryCodec]), so that several apps share one Redis: Redis
	// Pub/Sub ignores the DB number. If empty, [DefaultPrefix] ("pyre").
	// Leave it empty when Codec is set: the codec names the channels.
	Prefix string

	// Codec encodes messages and names their Redis channels. Every node
	// of a cluster must use the same codec. If nil, BinaryCodec with
	// Prefix.
	Codec Codec

	// PublishTimeout bounds each round trip of the publishing
	// connection: a pipelined batch of PUBLISH commands, or the PING that
	// checks that an unreachable Redis is back; past it, Redis is taken
	// for unreachable. It also bounds how long [Adapter.DirectBroadcast]
	// waits for its PUBLISH, and how long Start waits for the
	// subscription of the node's channel once connected. If zero, 3 s.
	PublishTimeout time.Duration

	// QueueSize bounds the number of messages waiting to be published.
	// Past it, broadcasts are dropped (and counted) rather than waited
	// for. If zero, 10000.
	QueueSize int

	// QueueBytes bounds the encoded bytes of the messages waiting to be
	// published, as QueueSize does their number. If zero, 64 MiB.
	QueueBytes int

	// HealthCheckInterval is how long the subscription connection may be
	// silent before the adapter pings Redis; without an answer within
	// another interval, it connects again. If zero, 5 s.
	HealthCheckInterval time.Duration

	// MaxReconnectDelay caps the delay between two attempts to reach
	// Redis again, which starts at 50 ms and doubles after each failure.
	// If zero, 2 s.
	MaxReconnectDelay time.Duration

	// Logger receives the adapter's lifecycle messages: one line when
	// Redis becomes unreachable and one when it is back, never one per
	// message. If nil, slog.Default(). go-redis itself logs each failed
	// dial to its own logger (standard error unless the app calls
	// go-redis's SetLogger), which the adapter leaves alone.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	defaultPublishTimeout      = 3 * time.Second
	defaultQueueSize           = 10_000
	defaultQueueBytes          = 64 << 20
	defaultHealthCheckInterval = 5 * time.Second
	defaultMaxReconnectDelay   = 2 * time.Second

	// minReconnectDelay is the first delay of the reconnection backoff.
	minReconnectDelay = 50 * time.Millisecond
)

// cloneWithDefaults returns a copy of o (nil: the zero Options) with the
// defaults filled in, and a copy of its Redis options with the settings
// the adapter needs.
func (o *Options) cloneWithDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	switch {
	case c.Codec != nil && c.Prefix != "":
		return c, errors.New("redis: Options.Prefix and Options.Codec are both set: give the prefix to the codec")
	case c.PublishTimeout < 0, c.QueueSize < 0, c.QueueBytes < 0, c.HealthCheckInterval < 0, c.MaxReconnectDelay < 0:
		return c, errors.New("redis: negative duration or size in Options")
	}
	var r goredis.Options
	if c.Redis != nil {
		r = *c.Redis
	}
	r.MaxRetries = -1
	r.ContextTimeoutEnabled = true
	c.Redis = &r
	if c.Codec == nil {
		c.Codec = BinaryCodec{Prefix: c.Prefix}
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = defaultPublishTimeout
	}
	if c.QueueSize == 0 {
		c.QueueSize = defaultQueueSize
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = defaultQueueBytes
	}
	if c.HealthCheckInterval == 0 {
		c.HealthCheckInterval = defaultHealthCheckInterval
	}
	if c.MaxReconnectDelay == 0 {
		c.MaxReconnectDelay = defaultMaxReconnectDelay
	}
	c.MaxReconnectDelay = max(c.MaxReconnectDelay, minReconnectDelay)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
