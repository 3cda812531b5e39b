package presence_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// The figures of docs/benchmarks.md ("Presence"): 10,000 tracked
// connections on one topic on one node.

const benchN = 10_000

// trackN tracks n keys on topic, one owner each.
func trackN(b *testing.B, tr *presence.Tracker, topic string, n int) {
	b.Helper()
	for i := range n {
		if _, err := tr.Track(fmt.Sprint("conn-", i), topic, fmt.Sprint("user-", i), map[string]any{"online_at": 1714000000000 + i}); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchTracker(b *testing.B, ps *pubsub.PubSub) *presence.Tracker {
	return newBenchTrackerWindow(b, ps, 0)
}

// newBenchTrackerWindow is newBenchTracker with Options.DiffWindow.
func newBenchTrackerWindow(b *testing.B, ps *pubsub.PubSub, window time.Duration) *presence.Tracker {
	tr, err := presence.New(ps, &presence.Options{Logger: discard, DiffWindow: window})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

// BenchmarkList10k is List of a topic with 10,000 entries.
func BenchmarkList10k(b *testing.B) {
	tr := newBenchTracker(b, newPubSub(b, ""))
	trackN(b, tr, "room:big", benchN)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if len(tr.List(ctx, "room:big")) != benchN {
			b.Fatal("short list")
		}
	}
}

// BenchmarkState10k is List plus its encoding as the presence_state
// payload: what a join costs the server.
func BenchmarkState10k(b *testing.B) {
	tr := newBenchTracker(b, newPubSub(b, ""))
	trackN(b, tr, "room:big", benchN)
	ctx := context.Background()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		p, err := tr.State(ctx, "room:big")
		if err != nil {
			b.Fatal(err)
		}
		size = len(p.Bytes())
	}
	b.ReportMetric(float64(size), "payload-bytes")
}

// fastSub does what a channel's fast lane does with a broadcast: take the
// frame (encoded once per serializer, shared) and enqueue it without
// blocking.
type fastSub struct {
	queue chan protocol.Frame
}

func (s *fastSub) Deliver(m *pubsub.Message) {
	f, err := m.Frame(protocol.V2)
	if err != nil {
		panic(err)
	}
	select {
	case s.queue <- f:
	default:
	}
}

func (s *fastSub) drain() {
	for {
		select {
		case <-s.queue:
		default:
			return
		}
	}
}

// lastSub is subscribed last, so pubsub.Local delivers to it last: it
// signals the end of a fan-out.
type lastSub struct{ done chan struct{} }

func (s *lastSub) Deliver(*pubsub.Message) { s.done <- struct{}{} }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDiffVsBroadcast10k compares, in the same loop, the server CPU
// per delivery of presence diffs and of plain broadcasts to 10,000
// subscribers of one topic. Each iteration tracks a new key and untracks
// it (two presence_diff fan-outs, built and broadcast by the tracker),
// then broadcasts two plain messages of the same size. CPU is the
// process's user+system time (getrusage), so the tracker's goroutines and
// the GC are counted. The tracker has no DiffWindow, so that each change
// is one diff, broadcast at once.
func BenchmarkDiffVsBroadcast10k(b *testing.B) {
	ps := newPubSub(b, "")
	tr := newBenchTrackerWindow(b, ps, -1)
	subs := make([]*fastSub, benchN)
	for i := range subs {
		subs[i] = &fastSub{queue: make(chan protocol.Frame, 64)}
		_, _ = ps.Subscribe("room:big", subs[i])
	}
	last := &lastSub{done: make(chan struct{}, 1)}
	_, _ = ps.Subscribe("room:big", last)

	// A plain broadcast as large as a presence_diff of one join.
	ref, _ := tr.Track("probe", "room:big", "user-probe", map[string]any{"online_at": 1714000000000})
	<-last.done
	tr.Untrack("probe", "room:big", "user-probe")
	<-last.done
	plain := protocol.JSON([]byte(fmt.Sprintf(`{"body":"a plain broadcast as large as a diff","n":1,"user":%q,"online_at":1714000000000,"x":"xxxxxxxxxxxx"}`, ref)))

	var diffCPU, plainCPU, diffWall, plainWall time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		owner, key := fmt.Sprint("conn-", i), fmt.Sprint("user-", i)
		i++
		c0, w0 := cpuTime(), time.Now()
		if _, err := tr.Track(owner, "room:big", key, map[string]any{"online_at": 1714000000000}); err != nil {
			b.Fatal(err)
		}
		<-last.done
		tr.Untrack(owner, "room:big", key)
		<-last.done
		c1, w1 := cpuTime(), time.Now()
		for range 2 {
			ps.LocalBroadcast(&pubsub.Message{Topic: "room:big", Event: "new_msg", Payload: plain})
			<-last.done
		}
		c2, w2 := cpuTime(), time.Now()
		diffCPU += c1 - c0
		plainCPU += c2 - c1
		diffWall += w1.Sub(w0)
		plainWall += w2.Sub(w1)
		if i%32 == 0 {
			b.StopTimer()
			for _, s := range subs {
				s.drain()
			}
			b.StartTimer()
		}
	}
	deliveries := float64(2 * benchN * i)
	b.ReportMetric(float64(diffCPU.Nanoseconds())/deliveries, "diff-cpu-ns/delivery")
	b.ReportMetric(float64(plainCPU.Nanoseconds())/deliveries, "bcast-cpu-ns/delivery")
	b.ReportMetric(float64(diffCPU)/float64(plainCPU), "cpu-ratio")
	b.ReportMetric(float64(diffWall.Nanoseconds())/deliveries, "diff-wall-ns/delivery")
	b.ReportMetric(float64(plainWall.Nanoseconds())/deliveries, "bcast-wall-ns/delivery")
}

// BenchmarkJoinBurst10k tracks 10,000 keys from 10,000 goroutines at once
// on a topic with 10,000 subscribers, until every subscriber has every
// join: without DiffWindow, and with its default.
func BenchmarkJoinBurst10k(b *testing.B) {
	for _, w := range []time.Duration{-1, 0} {
		name := "window=none"
		if w == 0 {
			name = "window=default"
		}
		b.Run(name, func(b *testing.B) { joinBurst(b, w) })
	}
}

func joinBurst(b *testing.B, window time.Duration) {
	var diffs atomic.Int64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ps := newPubSub(b, "")
		tr, err := presence.New(ps, &presence.Options{Logger: discard, DiffWindow: window})
		if err != nil {
			b.Fatal(err)
		}
		subs := make([]*fastSub, benchN)
		for i := range subs {
			subs[i] = &fastSub{queue: make(chan protocol.Frame, 1)}
			_, _ = ps.Subscribe("room:big", subs[i])
		}
		counter := &joinsCounter{want: benchN, done: make(chan struct{})}
		_, _ = ps.Subscribe("room:big", counter)
		b.StartTimer()

		var wg sync.WaitGroup
		for i := range benchN {
			wg.Go(func() {
				if _, err := tr.Track(fmt.Sprint("conn-", i), "room:big", fmt.Sprint("user-", i), map[string]any{"online_at": i}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		select {
		case <-counter.done:
		case <-time.After(time.Minute):
			b.Fatalf("only %d joins delivered", counter.joins.Load())
		}

		b.StopTimer()
		diffs.Add(counter.diffs.Load())
		_ = tr.Shutdown(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(diffs.Load())/float64(b.N), "diffs/op")
}

// joinsCounter counts the joins it is delivered, and closes done at want.
type joinsCounter struct {
	want  int64
	joins atomic.Int64
	diffs atomic.Int64
	done  chan struct{}
}

func (c *joinsCounter) Deliver(m *pubsub.Message) {
	var d struct {
		Joins map[string]struct {
			Metas []json.RawMessage `json:"metas"`
		} `json:"joins"`
	}
	if err := json.Unmarshal(m.Payload.Bytes(), &d); err != nil {
		panic(err)
	}
	n := 0
	for _, p := range d.Joins {
		n += len(p.Metas)
	}
	c.diffs.Add(1)
	if c.joins.Add(int64(n)) == c.want {
		close(c.done)
	}
}

// BenchmarkTrackUntrackParallel tracks and untracks from every CPU, each
// goroutine on its own topic: the shards keep them apart.
func BenchmarkTrackUntrackParallel(b *testing.B) {
	tr := newBenchTracker(b, newPubSub(b, ""))
	var next atomic.Int64
	meta := map[string]any{"online_at": 1714000000000}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := next.Add(1)
		topic, owner := fmt.Sprint("room:", n), fmt.Sprint("conn-", n)
		for pb.Next() {
			if _, err := tr.Track(owner, topic, "k", meta); err != nil {
				b.Error(err)
				return
			}
			tr.Untrack(owner, topic, "k")
		}
	})
}
