// Package broker makes the PubSub of an example from its -pubsub flag: the
// in-process PubSub of one node by default, or a node of a cluster on
// Redis (redis://HOST:PORT[/DB]) or NATS (nats://HOST:PORT).
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/pubsub"
	pyrenats "github.com/pyrehq/pyre/pubsub/nats"
	pyreredis "github.com/pyrehq/pyre/pubsub/redis"
)

// New returns the PubSub of node (a random name when empty) for rawURL:
// "" for this node alone, "redis://HOST:PORT[/DB]" or "nats://HOST:PORT"
// for a node of a cluster. ctx bounds the connection to the broker.
func New(ctx context.Context, rawURL, node string, logger *slog.Logger) (*pubsub.PubSub, error) {
	opts := &pubsub.Options{Node: node, Logger: logger}
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("-pubsub %q: %w", rawURL, err)
		}
		switch u.Scheme {
		case "redis", "rediss":
			ro, err := goredis.ParseURL(rawURL)
			if err != nil {
				return nil, fmt.Errorf("-pubsub %q: %w", rawURL, err)
			}
			if opts.Adapter, err = pyreredis.New(&pyreredis.Options{Redis: ro, Logger: logger}); err != nil {
				return nil, err
			}
		case "nats", "tls":
			if opts.Adapter, err = pyrenats.New(&pyrenats.Options{URL: rawURL, Logger: logger}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("-pubsub %q: want redis://HOST:PORT[/DB] or nats://HOST:PORT", rawURL)
		}
	}
	return pubsub.New(ctx, opts)
}
