package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/pubsubtest"
	"github.com/pyrehq/pyre/pubsub/redis"
)

// The adapter passes the cases every adapter must pass, its nodes on one
// redis-server.
func TestAdapter(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	prefix := uniquePrefix(t)
	pubsubtest.TestAdapter(t, func(t *testing.T) pubsub.Adapter {
		return newAdapter(t, s, &redis.Options{Prefix: prefix})
	})
}

// oneChannelCodec puts every message of an app on one Redis channel, the
// shape of phoenix_pubsub_redis: the codec alone changes, and the adapter
// still gives each node only its direct broadcasts and its topics.
type oneChannelCodec struct {
	redis.BinaryCodec
}

func (c oneChannelCodec) TopicChannel(string) string { return c.Prefix + ":app" }
func (c oneChannelCodec) NodeChannel(string) string  { return c.Prefix + ":app" }

func TestAdapterOneChannelCodec(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	codec := oneChannelCodec{redis.BinaryCodec{Prefix: uniquePrefix(t)}}
	pubsubtest.TestAdapter(t, func(t *testing.T) pubsub.Adapter {
		return newAdapter(t, s, &redis.Options{Codec: codec})
	})
}

// A direct broadcast to a node nobody runs is ErrUnknownNode: no client
// subscribes to its channel.
func TestDirectBroadcastUnknownNode(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ps := startNode(t, "a", newAdapter(t, s, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := ps.DirectBroadcast(ctx, "nobody", &pubsub.Message{Topic: "t", Event: "e"})
	if !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Fatalf("DirectBroadcast to a node nobody runs: %v, want ErrUnknownNode", err)
	}
}

// A broadcast is one PUBLISH, whatever the number of nodes and
// subscribers: counted by the server's command statistics, on a server of
// this test alone.
func TestOnePublishPerBroadcast(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const topic = "room:count"
	nodes := make([]*pubsub.PubSub, 3)
	boxes := make([]*inbox, 0, 6)
	for i := range nodes {
		nodes[i] = startNode(t, fmt.Sprint("node-", i), newAdapter(t, s, nil))
		boxes = append(boxes, subscribe(t, nodes[i], topic), subscribe(t, nodes[i], topic))
	}
	// Wait until every node's watch has reached Redis.
	for k := 0; ; k++ {
		probe := fmt.Sprint("probe-", k)
		broadcast(t, nodes[0], topic, probe)
		time.Sleep(20 * time.Millisecond)
		all := true
		for _, b := range boxes {
			all = all && b.count(probe) > 0
		}
		if all {
			break
		}
		if k == 250 {
			t.Fatal("the watches did not reach Redis within 5 s")
		}
	}
	c := s.client(t)
	before := publishCalls(t, c)
	broadcast(t, nodes[0], topic, "counted")
	checkFor(t, 5*time.Second, "every subscriber gets the broadcast", func() bool {
		for _, b := range boxes {
			if b.count("counted") != 1 {
				return false
			}
		}
		return true
	})
	if n := publishCalls(t, c) - before; n != 1 {
		t.Fatalf("a broadcast to subscribers on 3 nodes made %d PUBLISH, want 1", n)
	}

	before = publishCalls(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nodes[0].DirectBroadcast(ctx, "node-2", &pubsub.Message{Topic: topic, Event: "direct"}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, "node-2 gets the direct broadcast", func() bool { return boxes[4].count("direct") == 1 })
	if n := publishCalls(t, c) - before; n != 1 {
		t.Fatalf("a direct broadcast made %d PUBLISH, want 1", n)
	}
}

func broadcast(t *testing.T, ps *pubsub.PubSub, topic, event string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ps.Broadcast(ctx, &pubsub.Message{Topic: topic, Event: event, Payload: protocol.JSON([]byte(`{}`))}); err != nil {
		t.Fatalf("node %s: Broadcast(%q, %q): %v", ps.Node(), topic, event, err)
	}
}

// publishCalls returns the number of PUBLISH commands the server has run.
func publishCalls(t *testing.T, c *goredis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for line := range strings.Lines(info) {
		if _, err := fmt.Sscanf(line, "cmdstat_publish:calls=%d,", &n); err == nil {
			return n
		}
	}
	return 0
}

// Close racing with broadcasts and direct broadcasts on other goroutines
// neither panics nor blocks: each call returns nil, ErrClosed, or (for
// direct broadcasts) ErrUnknownNode or ErrUnavailable (the queue is
// full); Close waits for every goroutine.
func TestCloseRacesBroadcasts(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for round := range 5 {
		a := newAdapter(t, s, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.Start(ctx, fmt.Sprint("racer-", round), func(*pubsub.Message) {}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 4 {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					m := &pubsub.Message{Topic: "t", Event: "e", Origin: "racer", Payload: protocol.JSON([]byte(`{}`))}
					var err error
					if g == 0 {
						err = a.DirectBroadcast(ctx, "elsewhere", m)
					} else {
						err = a.Broadcast(ctx, m)
					}
					switch {
					case errors.Is(err, pubsub.ErrClosed):
						return
					case err != nil && !errors.Is(err, pubsub.ErrUnknownNode) && !errors.Is(err, redis.ErrUnavailable):
						t.Errorf("goroutine %d: %v", g, err)
						return
					case i == 100_000:
						t.Errorf("goroutine %d: no ErrClosed after %d calls", g, i)
						return
					}
				}
			})
		}
		for g := range 2 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					topic := fmt.Sprint("w", g, i%7)
					a.Watch(topic)
					a.Unwatch(topic)
				}
			})
		}
		close(start)
		time.Sleep(time.Duration(round) * 5 * time.Millisecond)
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
		if err := a.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
		cancel()
	}
}

// Start fails, within its context, when Redis cannot be reached, and
// leaves nothing running; the adapter may not be started again after
// Close.
func TestStartFails(t *testing.T) {
	t.Parallel()
	a, err := redis.New(&redis.Options{
		Redis:  &goredis.Options{Addr: fmt.Sprint("127.0.0.1:", freePort(t)), DialTimeout: 200 * time.Millisecond},
		Logger: discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = pubsub.New(ctx, &pubsub.Options{Node: "a", Adapter: a, Logger: discard})
	if err == nil {
		t.Fatal("pubsub.New succeeded with no Redis")
	}
	t.Logf("pubsub.New: %v", err)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Start took %v", d)
	}
	if err := a.Close(ctx); err != nil {
		t.Errorf("Close after a failed Start: %v", err)
	}
	if err := a.Start(ctx, "a", func(*pubsub.Message) {}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts *redis.Options
		ok   bool
	}{
		{"nil", nil, true},
		{"zero", &redis.Options{}, true},
		{"prefix", &redis.Options{Prefix: "app"}, true},
		{"codec", &redis.Options{Codec: redis.BinaryCodec{Prefix: "app"}}, true},
		{"prefix-and-codec", &redis.Options{Prefix: "app", Codec: redis.BinaryCodec{}}, false},
		{"negative-timeout", &redis.Options{PublishTimeout: -1}, false},
		{"negative-queue", &redis.Options{QueueSize: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redis.New(tc.opts)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}

	// The caller's options are not changed.
	ro := &goredis.Options{Addr: "localhost:1", MaxRetries: 5}
	if _, err := redis.New(&redis.Options{Redis: ro}); err != nil {
		t.Fatal(err)
	}
	if ro.MaxRetries != 5 || ro.ContextTimeoutEnabled {
		t.Errorf("New changed the caller's Redis options: %+v", ro)
	}
}

// Methods called before Start fail rather than panic.
func TestNotStarted(t *testing.T) {
	t.Parallel()
	a, err := redis.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := &pubsub.Message{Topic: "t", Event: "e", Origin: "a"}
	if err := a.Broadcast(ctx, m); err == nil {
		t.Error("Broadcast before Start succeeded")
	}
	if err := a.DirectBroadcast(ctx, "b", m); err == nil {
		t.Error("DirectBroadcast before Start succeeded")
	}
	a.Watch("t")
	a.Unwatch("t")
	if st := a.Stats(); st != (redis.Stats{}) {
		t.Errorf("Stats before Start: %+v", st)
	}
	if err := a.Close(ctx); err != nil {
		t.Error(err)
	}
}

// Close publishes the broadcasts queued before it (a presence tracker's
// goodbye, say) before it closes the connections.
func TestCloseFlushesQueue(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	aAd := newAdapter(t, s, nil)
	a, b := startNode(t, "a", aAd), startNode(t, "b", newAdapter(t, s, nil))
	const topic = "room:flush"
	box := subscribe(t, b, topic)
	for k := 0; box.countPrefix("probe") == 0; k++ {
		if k == 250 {
			t.Fatal("b's watch did not reach Redis within 5 s")
		}
		broadcast(t, a, topic, fmt.Sprint("probe-", k))
		time.Sleep(20 * time.Millisecond)
	}
	const n = 2000
	for i := range n {
		broadcast(t, a, topic, fmt.Sprint("last-", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := aAd.Stats(); st.Queued != 0 || st.Dropped != 0 {
		t.Errorf("after Close: %+v, want nothing queued or dropped", st)
	}
	checkFor(t, 5*time.Second, "b gets every broadcast made before a's Close", func() bool { return box.countPrefix("last-") == n })
}
