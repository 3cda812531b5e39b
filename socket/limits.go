package socket

import (
	"time"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// LimitOptions bounds what one connection may send, beyond what Phoenix
// does: a client that floods pushes or joins slows nobody else. Each limit
// is a token bucket per connection. The zero value limits nothing.
type LimitOptions struct {
	// Messages is the pushes per second a connection may send over time;
	// MessageBurst how many it may send at once. Heartbeats, joins and
	// leaves do not count. Zero means no limit; MessageBurst zero means
	// Messages (at least 1).
	Messages     float64
	MessageBurst int

	// Joins is the joins per second a connection may send over time;
	// JoinBurst how many at once. Zero means no limit; JoinBurst zero
	// means Joins (at least 1).
	Joins     float64
	JoinBurst int

	// Close, when set, closes a connection that passes a limit, with
	// transport.CloseRateLimited (1008, "rate limited"; phoenix.js
	// reconnects). When not set, what passes the limit is refused: a push
	// with a ref and a join get an error reply {"reason": "rate limited"},
	// a push without a ref is dropped, and the connection goes on.
	Close bool
}

// rateLimited is the response to a refused push or join.
var rateLimited = protocol.JSON([]byte(`{"reason":"rate limited"}`))

// bucket is a token bucket. It belongs to the connection's reader.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	refused     int  // In the current episode.
	over        bool // An episode is on: the last message was refused.
}

func newBucket(rate float64, burst int) *bucket {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if burst <= 0 {
		b = max(1, rate)
	}
	return &bucket{rate: rate, burst: b, tokens: b}
}

// take reports whether one more message is within the limit now.
func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// limits are a connection's buckets, nil when unlimited.
type limits struct {
	messages, joins *bucket
	close           bool
}

func newLimits(o *LimitOptions) *limits {
	if o == nil {
		return nil
	}
	l := &limits{messages: newBucket(o.Messages, o.MessageBurst), joins: newBucket(o.Joins, o.JoinBurst), close: o.Close}
	if l.messages == nil && l.joins == nil {
		return nil
	}
	return l
}

// allow applies the limits to m, from the connection's reader: it
// reports whether m may be dispatched. When not, it has refused m (an
// error reply) or closed the connection. An episode over a limit is
// logged and reported once, when it starts, and summed up when it ends.
func (c *conn) allow(m *protocol.Message) bool {
	var b *bucket
	kind := "messages"
	switch m.Event {
	case protocol.EventJoin:
		b, kind = c.limits.joins, "joins"
	case protocol.EventLeave:
	default:
		b = c.limits.messages
	}
	if b == nil {
		return true
	}
	if b.take(time.Now()) {
		if b.over {
			b.over = false
			c.log.Info("client back under the "+kind+" rate limit", "transport", c.transport, "refused", b.refused)
			b.refused = 0
		}
		return true
	}
	b.refused++
	if !b.over {
		b.over = true
		action := "refused"
		if c.limits.close {
			action = "closed"
		}
		c.log.Warn("client over the "+kind+" rate limit (Options.Limits): "+action,
			"transport", c.transport, "rate", b.rate, "burst", b.burst)
		if h := c.srv.hooks; h != nil && h.RateLimited != nil {
			h.RateLimited(telemetry.RateLimitEvent{Transport: c.transport, SocketID: c.id, Limit: kind, Closed: c.limits.close})
		}
	}
	if c.limits.close {
		c.close(transport.CloseRateLimited)
		return false
	}
	if !m.Ref.IsNull() {
		jr := m.JoinRef
		if m.Event != protocol.EventJoin {
			jr = protocol.Null
			if ch := c.channel(m.Topic); ch != nil {
				jr = ch.JoinRef()
			}
		}
		c.reply(jr, m, "error", rateLimited)
	}
	return false
}
