package nats_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	pubsubnats "github.com/pyrehq/pyre/pubsub/nats"
	"github.com/pyrehq/pyre/pubsub/pubsubtest"
)

// The adapter passes the cases every adapter must pass, on one
// nats-server.
func TestAdapter(t *testing.T) {
	t.Parallel()
	url, prefix := sharedURL(t), newPrefix()
	pubsubtest.TestAdapter(t, func(t *testing.T) pubsub.Adapter {
		return newAdapter(t, url, prefix, nil)
	})
}

// One broadcast is one NATS publication, however many nodes and
// subscribers get it: a connection of its own subscribed to every subject
// of the prefix sees it once.
func TestOnePublishPerBroadcast(t *testing.T) {
	t.Parallel()
	url, prefix := sharedURL(t), newPrefix()
	const topic = "room:one-publish"
	a, b, c := startNode(t, url, prefix, "a", nil), startNode(t, url, prefix, "b", nil), startNode(t, url, prefix, "c", nil)
	boxes := map[string]*inbox{}
	for _, n := range []*node{a, b, c} {
		for i := range 2 {
			boxes[fmt.Sprint(n.Node(), i)] = n.subscribe(t, topic)
		}
	}
	reaches(t, a, topic, boxes["b0"], "a's broadcasts reach b")
	reaches(t, a, topic, boxes["c0"], "a's broadcasts reach c")

	spy, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	var mu sync.Mutex
	seen := map[string]int{} // Subject → publications.
	sub, err := spy.Subscribe(prefix+".>", func(m *nats.Msg) {
		mu.Lock()
		seen[m.Subject]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}

	before := a.a.Stats().Published
	a.broadcast(t, topic, "once")
	for who, box := range boxes {
		eventually(t, waitFor, who+" gets the broadcast", func() bool { return box.count("once") == 1 })
	}
	// A barrier: when the spy has it, it has everything a sent before.
	a.broadcast(t, topic, "barrier")
	eventually(t, waitFor, "the spy gets the barrier", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range seen {
			n += c
		}
		return n >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Errorf("the broadcasts went to %d subjects, want 1: %v", len(seen), seen)
	}
	for subject, n := range seen {
		if n != 2 {
			t.Errorf("subject %s got %d publications, want 2 (the broadcast and the barrier)", subject, n)
		}
	}
	if got := a.a.Stats().Published - before; got != 2 {
		t.Errorf("a's adapter published %d messages for 2 broadcasts", got)
	}
	for who, box := range boxes {
		if n := box.count("once"); n != 1 {
			t.Errorf("%s got the broadcast %d times", who, n)
		}
	}
}

// A message larger than the server's max_payload fails with ErrTooLarge;
// the local subscribers get it anyway.
func TestTooLarge(t *testing.T) {
	t.Parallel()
	url, prefix := sharedURL(t), newPrefix()
	a := startNode(t, url, prefix, "a", nil)
	box := a.subscribe(t, "big")
	big := &pubsub.Message{Topic: "big", Event: "big", Payload: protocol.Binary(make([]byte, 8<<20+1))}
	err := a.Broadcast(context.Background(), big)
	if !errors.Is(err, pubsubnats.ErrTooLarge) {
		t.Fatalf("Broadcast of 8 MiB + 1 byte: %v, want ErrTooLarge", err)
	}
	if box.count("big") != 1 {
		t.Error("the local subscriber did not get the message")
	}
	if err := a.DirectBroadcast(context.Background(), "b", big); !errors.Is(err, pubsubnats.ErrTooLarge) {
		t.Errorf("DirectBroadcast of 8 MiB + 1 byte: %v, want ErrTooLarge", err)
	}
}

// Start fails, within its context, when NATS cannot be reached.
func TestStartUnreachable(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.kill() // A port where nothing listens.
	a := newAdapter(t, s.url(), newPrefix(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := pubsub.New(ctx, &pubsub.Options{Node: "a", Adapter: a, Logger: discard})
	if err == nil {
		t.Fatal("New succeeded without a server")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("New took %v to fail, past its context's 1s", d)
	}
}

func TestNewBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts pubsubnats.Options
	}{
		{"empty-token", pubsubnats.Options{Prefix: "a..b"}},
		{"trailing-dot", pubsubnats.Options{Prefix: "a."}},
		{"star", pubsubnats.Options{Prefix: "a.*"}},
		{"gt", pubsubnats.Options{Prefix: "a.>"}},
		{"space", pubsubnats.Options{Prefix: "my app"}},
		{"nats-option", pubsubnats.Options{NATS: []nats.Option{func(*nats.Options) error { return errors.New("bad") }}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := pubsubnats.New(&tc.opts); err == nil {
				t.Errorf("New(%+v) succeeded", tc.opts)
			}
		})
	}
	if _, err := pubsubnats.New(nil); err != nil {
		t.Errorf("New(nil): %v", err)
	}
}

// Broadcasts racing with Close return nil or ErrClosed, and nothing
// panics.
func TestCloseRacesBroadcasts(t *testing.T) {
	t.Parallel()
	url, prefix := sharedURL(t), newPrefix()
	a := newAdapter(t, url, prefix, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := a.Start(ctx, "a", func(*pubsub.Message) {}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				m := msg("room", fmt.Sprint(g, "/", i))
				var err error
				if i%2 == 0 {
					err = a.Broadcast(ctx, m)
				} else {
					err = a.DirectBroadcast(ctx, "b", m)
				}
				if errors.Is(err, pubsub.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Broadcast: %v", err)
					return
				}
				if i%100 == 0 {
					a.Watch(fmt.Sprint("t", g))
					a.Unwatch(fmt.Sprint("t", g))
				}
			}
		})
	}
	eventually(t, waitFor, "the broadcasts get going", func() bool { return a.Stats().Published > 100 })
	if err := a.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	if err := a.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := a.Broadcast(ctx, msg("room", "late")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Broadcast after Close: %v, want ErrClosed", err)
	}
	if a.Stats().Connected {
		t.Error("Stats().Connected after Close")
	}
}

// Broadcasts before Start fail; Close before Start does nothing.
func TestNotStarted(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "nats://127.0.0.1:1", newPrefix(), nil)
	if err := a.Broadcast(context.Background(), msg("room", "e")); err == nil {
		t.Error("Broadcast before Start succeeded")
	}
	if err := a.Close(context.Background()); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	if err := a.Start(context.Background(), "a", func(*pubsub.Message) {}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}
