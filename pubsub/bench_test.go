package pubsub_test

import (
	"context"
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
	ps := newPubSub(b, nil)
	subs := make([]*benchSub, 1000)
	for i := range subs {
		subs[i] = &benchSub{queue: make(chan protocol.Frame, 64)}
		subscribe(b, ps, "room:lobby", subs[i])
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = ps.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: benchPayload})
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
	ps := newPubSub(b, nil)
	const topics, perTopic = 256, 10
	for t := range topics {
		for range perTopic {
			subscribe(b, ps, fmt.Sprintf("room:%d", t), &benchSub{queue: make(chan protocol.Frame)})
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		topic := fmt.Sprintf("room:%d", next.Add(1)%topics)
		for pb.Next() {
			_ = ps.LocalBroadcast(&pubsub.Message{Topic: topic, Event: "new_msg", Payload: benchPayload})
		}
	})
}

// A broadcast over a Cluster of 4 nodes with 250 subscribers each: the
// local fan-out plus three copies.
func BenchmarkClusterBroadcast1000(b *testing.B) {
	c := pubsub.NewCluster()
	var nodes []*pubsub.PubSub
	var subs []*benchSub
	for i := range 4 {
		ps := newPubSub(b, &pubsub.Options{Node: fmt.Sprint("n", i), Adapter: c.Adapter()})
		nodes = append(nodes, ps)
		for range 250 {
			s := &benchSub{queue: make(chan protocol.Frame, 64)}
			subs = append(subs, s)
			subscribe(b, ps, "room:lobby", s)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = nodes[0].Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: benchPayload})
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

func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	ps := newPubSub(b, nil)
	subscribe(b, ps, "room:lobby", &benchSub{})
	s := &benchSub{}
	b.ReportAllocs()
	for b.Loop() {
		sub, _ := ps.Subscribe("room:lobby", s)
		sub.Unsubscribe()
	}
}
