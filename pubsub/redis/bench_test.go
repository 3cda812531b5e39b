package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// BenchmarkBroadcast measures broadcasts from one node to a subscriber on
// another, through a real redis-server: the time per message until the
// last one has arrived, with at most window messages in flight so that
// the publish queue never overflows (Broadcast alone only queues).
func BenchmarkBroadcast(b *testing.B) {
	s := startServer(b)
	from := startNode(b, "a", newAdapter(b, s, nil))
	to := startNode(b, "b", newAdapter(b, s, nil))
	var got atomic.Int64
	if _, err := to.Subscribe("room:bench", pubsub.SubscriberFunc(func(*pubsub.Message) { got.Add(1) })); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	payload := protocol.JSON([]byte(`{"body":"hello, world","user":"ann"}`))
	// Wait for the watch to reach Redis.
	for got.Load() == 0 {
		if err := from.Broadcast(ctx, &pubsub.Message{Topic: "room:bench", Event: "warmup", Payload: payload}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got.Store(0)
	b.ReportAllocs()
	const window = 1000
	var n int64
	for b.Loop() {
		for n-got.Load() >= window {
			time.Sleep(20 * time.Microsecond)
		}
		if err := from.Broadcast(ctx, &pubsub.Message{Topic: "room:bench", Event: "new_msg", Payload: payload}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n-got.Load()), "lost")
}
