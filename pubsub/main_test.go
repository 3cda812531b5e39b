package pubsub_test

import (
	"context"
	"io"
	"log/slog"
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

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// newPubSub returns a PubSub closed at the end of the test.
func newPubSub(t testing.TB, opts *pubsub.Options) *pubsub.PubSub {
	t.Helper()
	if opts == nil {
		opts = &pubsub.Options{}
	}
	if opts.Logger == nil {
		opts.Logger = discard
	}
	ps, err := pubsub.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := ps.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ps
}

// subscriber is a *pubsub.PubSub, or a struct that embeds one.
type subscriber interface {
	Subscribe(topic string, s pubsub.Subscriber) (*pubsub.Subscription, error)
}

// subscribe subscribes s to topic and fails the test on error.
func subscribe(t testing.TB, ps subscriber, topic string, s pubsub.Subscriber) *pubsub.Subscription {
	t.Helper()
	sub, err := ps.Subscribe(topic, s)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return sub
}

// rec is a subscriber that records the topics and events it gets.
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

// counter is a subscriber that counts the messages it gets.
type counter struct{ n atomic.Int64 }

func (c *counter) Deliver(*pubsub.Message) { c.n.Add(1) }

func msg(topic, event string) *pubsub.Message {
	return &pubsub.Message{Topic: topic, Event: event, Payload: protocol.JSON([]byte(`{"k":1}`))}
}
