package pubsub_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// benchSub does what a channel's fast lane does: encode (cached) and a
// cheap non-blocking enqueue.
type benchSub struct {
	queue chan protocol.Frame
	drops atomic.Int64
}

func (s *benchSub) Deliver(m *pubsub.Message) {
	f, err := m.Frame(protocol.V2)
	if err != nil {
		panic(err)
	}
	select {
	case s.queue <- f:
	default:
		s.drops.Add(1)
	}
}

// drain empties the queue; it runs outside the timer.
func (s *benchSub) drain() {
	for {
		select {
		case <-s.queue:
		default:
			return
		}
	}
}

var benchPayload = protocol.JSON([]byte(`{"body":"hello, world","user":"ann"}`))

func BenchmarkBroadcast1000(b *testing.B) {
	ps := pubsub.NewLocal("")
	subs := make([]*benchSub, 1000)
	for i := range subs {
		subs[i] = &benchSub{queue: make(chan protocol.Frame, 64)}
		ps.Subscribe("room:lobby", subs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ps.LocalBroadcast(&pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: benchPayload})
		if i%32 == 31 {
			b.StopTimer()
			for _, s := range subs {
				s.drain()
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(1000, "deliveries/op")
}

func BenchmarkBroadcastParallelTopics(b *testing.B) {
	ps := pubsub.NewLocal("")
	const topics, perTopic = 256, 10
	for t := range topics {
		for range perTopic {
			ps.Subscribe(fmt.Sprintf("room:%d", t), &benchSub{queue: make(chan protocol.Frame)})
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		topic := fmt.Sprintf("room:%d", next.Add(1)%topics)
		for pb.Next() {
			ps.LocalBroadcast(&pubsub.Message{Topic: topic, Event: "new_msg", Payload: benchPayload})
		}
	})
}
