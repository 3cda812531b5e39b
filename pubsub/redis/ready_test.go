package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/internal/netdelay"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/redis"
)

// linkDelay is how late a node behind netdelay's proxy gets its commands
// to Redis: a slow link, or a busy Redis.
const linkDelay = 30 * time.Millisecond

// delayedNode starts a PubSub named name whose adapter reaches s through
// a proxy that delays its commands by linkDelay.
func delayedNode(t *testing.T, s *server, name string, opts *redis.Options) (*pubsub.PubSub, *redis.Adapter) {
	t.Helper()
	proxy := netdelay.Start(t, s.Addr, linkDelay)
	o := *opts
	o.Redis = &goredis.Options{Addr: proxy.Addr}
	if o.Logger == nil {
		o.Logger = discard
	}
	a, err := redis.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	return startNode(t, name, a), a
}

// waitReady waits for sub.Ready, at most 5 s.
func waitReady(t *testing.T, sub *pubsub.Subscription) {
	t.Helper()
	select {
	case <-sub.Ready():
	case <-time.After(5 * time.Second):
		t.Fatalf("Ready of %q not closed within 5 s", sub.Topic())
	}
}

// The reproduction of the lost broadcasts: node b reaches Redis through a
// link that delays its commands by 30 ms. Without waiting, a broadcast
// made on a right after b subscribes is lost (b's SUBSCRIBE reaches
// Redis after a's PUBLISH); once Ready is closed, every one arrives.
func TestReadyThroughSlowLink(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	prefix := uniquePrefix(t)
	a := startNode(t, "a", newAdapter(t, s, &redis.Options{Prefix: prefix}))
	b, _ := delayedNode(t, s, "b", &redis.Options{Prefix: prefix})

	const topics = 20
	boxes := make([]*inbox, topics)
	for i := range topics {
		topic := fmt.Sprint("room:d", i)
		boxes[i] = &inbox{}
		sub, err := b.Subscribe(topic, boxes[i])
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, sub)
		broadcast(t, a, topic, "right-after-ready")
	}
	// Control: on other topics, the same without waiting for Ready loses
	// broadcasts, which shows that the link reproduces the gap.
	lost := 0
	controls := make([]*inbox, topics)
	for i := range topics {
		topic := fmt.Sprint("room:control", i)
		controls[i] = subscribe(t, b, topic)
		broadcast(t, a, topic, "right-after-subscribe")
	}
	checkFor(t, 5*time.Second, "every broadcast made right after Ready arrives", func() bool {
		for _, box := range boxes {
			if box.count("right-after-ready") != 1 {
				return false
			}
		}
		return true
	})
	// A barrier on each control topic: what was not lost has arrived
	// before it.
	for i := range topics {
		topic := fmt.Sprint("room:control", i)
		crosses(t, a, topic, controls[i])
		if controls[i].count("right-after-subscribe") == 0 {
			lost++
		}
	}
	t.Logf("without waiting for Ready, %d of %d broadcasts were lost", lost, topics)
	if lost < topics/2 {
		t.Errorf("without waiting for Ready, only %d of %d broadcasts were lost: the delayed link does not reproduce the gap", lost, topics)
	}
}

// Watched, unwatched and watched again before any confirmation, several
// times in a row through the slow link: the last Ready is closed only
// once the last SUBSCRIBE has taken effect.
func TestReadyAfterChurnThroughSlowLink(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	prefix := uniquePrefix(t)
	a := startNode(t, "a", newAdapter(t, s, &redis.Options{Prefix: prefix}))
	b, _ := delayedNode(t, s, "b", &redis.Options{Prefix: prefix})
	for round := range 5 {
		topic := fmt.Sprint("room:churn", round)
		for range 3 {
			sub, err := b.Subscribe(topic, &inbox{})
			if err != nil {
				t.Fatal(err)
			}
			// Let the apply goroutine send this SUBSCRIBE on its own
			// before the UNSUBSCRIBE, without waiting for Redis.
			time.Sleep(time.Millisecond)
			sub.Unsubscribe()
		}
		box := &inbox{}
		sub, err := b.Subscribe(topic, box)
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, sub)
		broadcast(t, a, topic, "right-after-ready")
		checkFor(t, 5*time.Second, "the broadcast made right after Ready arrives", func() bool {
			return box.count("right-after-ready") == 1
		})
	}
}

// While Redis is down, Watch gives nothing to wait for: a subscription is
// ready at once, and its watch takes effect when Redis is back. Ready
// channels still open when Close returns: none.
func TestReadyDuringOutage(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	prefix := uniquePrefix(t)
	opts := &redis.Options{
		Prefix:              prefix,
		PublishTimeout:      time.Second,
		HealthCheckInterval: time.Second,
		MaxReconnectDelay:   200 * time.Millisecond,
	}
	a := startNode(t, "a", newAdapter(t, s, opts))
	log := &recorder{}
	bOpts := *opts
	bOpts.Logger = slog.New(log)
	b := startNode(t, "b", newAdapter(t, s, &bOpts))

	s.kill()
	checkFor(t, 10*time.Second, "b notices the outage", func() bool { return log.count(logLost) > 0 })
	sub, err := b.Subscribe("room:outage", &inbox{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Ready():
	case <-time.After(100 * time.Millisecond):
		t.Fatal("a subscription made while Redis is down is not ready at once")
	}
	box := &inbox{}
	if _, err := b.Subscribe("room:outage", box); err != nil {
		t.Fatal(err)
	}
	s.restart(t)
	crosses(t, a, "room:outage", box)

	// Close releases a Ready whose watch is never confirmed: Redis frozen.
	s.signal(t, syscall.SIGSTOP)
	defer s.signal(t, syscall.SIGCONT)
	frozen, err := b.Subscribe("room:frozen", &inbox{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Logf("Close with Redis frozen: %v", err)
	}
	select {
	case <-frozen.Ready():
	default:
		t.Error("Ready still open after Close")
	}
}
