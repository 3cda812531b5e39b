package nats_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	pubsubnats "github.com/pyrehq/pyre/pubsub/nats"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var discard = slog.New(slog.DiscardHandler)

// waitFor bounds every wait of these tests for something that must
// happen.
const waitFor = 10 * time.Second

// newPrefix returns a subject prefix of its own for one test, so that
// tests sharing a server do not see each other.
func newPrefix() string { return "pyretest." + randomID() }

// randomID returns 12 random hex digits.
func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newAdapter returns a new adapter on url under prefix; opts may set
// more.
func newAdapter(t testing.TB, url, prefix string, opts *pubsubnats.Options) *pubsubnats.Adapter {
	t.Helper()
	var o pubsubnats.Options
	if opts != nil {
		o = *opts
	}
	o.URL, o.Prefix = url, prefix
	if o.Logger == nil {
		o.Logger = discard
	}
	a, err := pubsubnats.New(&o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// node is one PubSub on a NATS adapter.
type node struct {
	*pubsub.PubSub
	a *pubsubnats.Adapter
}

// startNode starts a PubSub named name on a new adapter (opts may be
// nil), closed when the test ends.
func startNode(t testing.TB, url, prefix, name string, opts *pubsubnats.Options) *node {
	t.Helper()
	a := newAdapter(t, url, prefix, opts)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ps, err := pubsub.New(ctx, &pubsub.Options{Node: name, Adapter: a, Logger: discard})
	if err != nil {
		t.Fatalf("starting node %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := ps.Close(ctx); err != nil {
			t.Errorf("closing node %s: %v", name, err)
		}
	})
	return &node{PubSub: ps, a: a}
}

// broadcast broadcasts event on topic from n, and fails the test on error.
func (n *node) broadcast(t testing.TB, topic, event string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := n.Broadcast(ctx, msg(topic, event)); err != nil {
		t.Fatalf("node %s: Broadcast(%q, %q): %v", n.Node(), topic, event, err)
	}
}

func msg(topic, event string) *pubsub.Message {
	return &pubsub.Message{Topic: topic, Event: event, Payload: protocol.JSON([]byte(`{"test":true}`))}
}

// inbox is a subscriber that keeps the events it gets.
type inbox struct {
	mu     sync.Mutex
	events []string
}

func (b *inbox) Deliver(m *pubsub.Message) {
	b.mu.Lock()
	b.events = append(b.events, m.Event)
	b.mu.Unlock()
}

// count returns how many times b got event.
func (b *inbox) count(event string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.events {
		if e == event {
			n++
		}
	}
	return n
}

// countPrefix returns how many events b got that start with prefix.
func (b *inbox) countPrefix(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// subscribe subscribes a new inbox to topic on n.
func (n *node) subscribe(t testing.TB, topic string) *inbox {
	t.Helper()
	b := new(inbox)
	if _, err := n.Subscribe(topic, b); err != nil {
		t.Fatalf("node %s: Subscribe(%q): %v", n.Node(), topic, err)
	}
	return b
}

// eventually polls cond every 10 ms until it holds, for at most d, and
// fails the test, saying what, if it does not.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reaches waits until the broadcasts of from on topic reach box: it
// broadcasts probes until one arrives (the watch has reached the server).
func reaches(t testing.TB, from *node, topic string, box *inbox, what string) {
	t.Helper()
	tag, k := "probe-"+randomID()+"-", 0
	eventually(t, waitFor, what, func() bool {
		from.broadcast(t, topic, fmt.Sprint(tag, k))
		k++
		return box.countPrefix(tag) > 0
	})
}
