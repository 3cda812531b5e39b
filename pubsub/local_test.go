package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rec is a subscriber that records the events it gets.
type rec struct {
	mu     sync.Mutex
	events []string
}

func (r *rec) Deliver(m *pubsub.Message) {
	r.mu.Lock()
	r.events = append(r.events, m.Topic+"/"+m.Event)
	r.mu.Unlock()
}

func (r *rec) got() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, ",")
}

func msg(topic, event string) *pubsub.Message {
	return &pubsub.Message{Topic: topic, Event: event, Payload: protocol.JSON([]byte(`{"k":1}`))}
}

func TestSubscribeBroadcastUnsubscribe(t *testing.T) {
	t.Parallel()
	ps := pubsub.NewLocal("n1")
	ctx := context.Background()
	a, b, c, other := &rec{}, &rec{}, &rec{}, &rec{}
	for _, s := range []*rec{a, b, c} {
		ps.Subscribe("room:1", s)
	}
	ps.Subscribe("room:2", other)
	if n := ps.Subscribers("room:1"); n != 3 {
		t.Fatalf("Subscribers = %d, want 3", n)
	}

	if err := ps.Broadcast(ctx, msg("room:1", "e1")); err != nil {
		t.Fatal(err)
	}
	// Removing the first subscriber moves the last one into its place.
	ps.Unsubscribe("room:1", a)
	ps.Unsubscribe("room:1", a)      // Twice: ignored.
	ps.Unsubscribe("room:9", b)      // Unknown topic: ignored.
	ps.Unsubscribe("room:2", &rec{}) // Unknown subscriber: ignored.
	ps.LocalBroadcast(msg("room:1", "e2"))
	ps.Unsubscribe("room:1", c)
	if err := ps.DirectBroadcast(ctx, "n1", msg("room:1", "e3")); err != nil {
		t.Fatal(err)
	}

	if got := a.got(); got != "room:1/e1" {
		t.Errorf("a got %q", got)
	}
	if got := b.got(); got != "room:1/e1,room:1/e2,room:1/e3" {
		t.Errorf("b got %q", got)
	}
	if got := c.got(); got != "room:1/e1,room:1/e2" {
		t.Errorf("c got %q", got)
	}
	if got := other.got(); got != "" {
		t.Errorf("a subscriber of another topic got %q", got)
	}
	if n := ps.Subscribers("room:1"); n != 1 {
		t.Fatalf("Subscribers = %d, want 1", n)
	}
	ps.Unsubscribe("room:1", b)
	if n := ps.Subscribers("room:1"); n != 0 {
		t.Fatalf("Subscribers = %d, want 0", n)
	}
	ps.LocalBroadcast(msg("room:1", "nobody")) // No subscribers: nothing happens.
	if n := ps.Subscribers("never"); n != 0 {
		t.Fatalf("Subscribers of an unknown topic = %d", n)
	}
}

// Local keeps one subscription per (topic, subscriber): subscribing twice
// delivers once and one Unsubscribe removes it. (The PubSub interface doc
// says a second Subscribe delivers twice, as in Phoenix.)
func TestSubscribeTwice(t *testing.T) {
	t.Parallel()
	ps := pubsub.NewLocal("")
	r := &rec{}
	ps.Subscribe("t", r)
	ps.Subscribe("t", r)
	ps.LocalBroadcast(msg("t", "e"))
	if got := r.got(); got != "t/e" {
		t.Fatalf("got %q", got)
	}
	ps.Unsubscribe("t", r)
	if n := ps.Subscribers("t"); n != 0 {
		t.Fatalf("Subscribers = %d after one Unsubscribe", n)
	}
}

func TestBroadcastFromSkipsSender(t *testing.T) {
	t.Parallel()
	ps := pubsub.NewLocal("")
	from, to := &rec{}, &rec{}
	ps.Subscribe("t", from)
	ps.Subscribe("t", to)
	m := msg("t", "e")
	m.From = from
	if err := ps.Broadcast(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if from.got() != "" || to.got() != "t/e" {
		t.Fatalf("from got %q, to got %q", from.got(), to.got())
	}
	// SubscriberFuncs are compared by pointer.
	var n1, n2 atomic.Int32
	f1 := pubsub.SubscriberFunc(func(*pubsub.Message) { n1.Add(1) })
	f2 := pubsub.SubscriberFunc(func(*pubsub.Message) { n2.Add(1) })
	ps.Subscribe("f", &f1)
	ps.Subscribe("f", &f2)
	m = msg("f", "e")
	m.From = &f1
	ps.LocalBroadcast(m)
	if n1.Load() != 0 || n2.Load() != 1 {
		t.Fatalf("f1 got %d, f2 got %d", n1.Load(), n2.Load())
	}
}

func TestNodes(t *testing.T) {
	t.Parallel()
	if n := pubsub.NewLocal("node-a").Node(); n != "node-a" {
		t.Fatalf("Node = %q", n)
	}
	a, b := pubsub.NewLocal(""), pubsub.NewLocal("")
	if a.Node() == "" || a.Node() == b.Node() || !strings.HasPrefix(a.Node(), "pyre-") {
		t.Fatalf("random node names %q and %q", a.Node(), b.Node())
	}
	r := &rec{}
	a.Subscribe("t", r)
	if err := a.DirectBroadcast(context.Background(), b.Node(), msg("t", "e")); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Fatalf("DirectBroadcast to another node: %v, want ErrUnknownNode", err)
	}
	if got := r.got(); got != "" {
		t.Fatalf("delivered %q despite the error", got)
	}
}

// Subscriptions, unsubscriptions and broadcasts from many goroutines, on
// shared and separate topics (run with -race).
func TestConcurrentSubscribeBroadcast(t *testing.T) {
	t.Parallel()
	ps := pubsub.NewLocal("")
	const workers, rounds = 8, 200
	stable := &counter{}
	ps.Subscribe("shared", stable)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			mine := &counter{}
			for i := range rounds {
				topic := fmt.Sprintf("t%d", i%16)
				ps.Subscribe(topic, mine)
				ps.Subscribe("shared", mine)
				ps.LocalBroadcast(msg("shared", "e"))
				ps.LocalBroadcast(msg(topic, "e"))
				_ = ps.Subscribers(topic)
				ps.Unsubscribe(topic, mine)
				ps.Unsubscribe("shared", mine)
			}
			_ = w
		})
	}
	wg.Wait()
	if got := stable.n.Load(); got != workers*rounds {
		t.Fatalf("the stable subscriber got %d broadcasts, want %d", got, workers*rounds)
	}
	if n := ps.Subscribers("shared"); n != 1 {
		t.Fatalf("Subscribers(shared) = %d, want 1", n)
	}
	for i := range 16 {
		if n := ps.Subscribers(fmt.Sprintf("t%d", i)); n != 0 {
			t.Fatalf("Subscribers(t%d) = %d, want 0", i, n)
		}
	}
}

type counter struct{ n atomic.Int64 }

func (c *counter) Deliver(*pubsub.Message) { c.n.Add(1) }
