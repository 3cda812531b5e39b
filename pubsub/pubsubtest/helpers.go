package pubsubtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// timeout bounds every wait for an expected message, every call into the
// adapter, and every poll for a condition that must become true.
const timeout = 5 * time.Second

// pollEvery is the pace of polls: one probe per tick.
const pollEvery = 10 * time.Millisecond

// probePrefix starts the Event of the probes sent to wait for watches to
// take effect. Checks of what a subscriber got ignore them.
const probePrefix = "pubsubtest.probe:"

// env is one case's cluster: the nodes it starts and the names it uses.
type env struct {
	t          *testing.T
	newAdapter func(t *testing.T) pubsub.Adapter
	id         string   // Unique per case: nodes and topics of other runs on the same broker differ.
	sent       sync.Map // The *pubsub.Message given to adapters, which must never come out of one.
}

func newEnv(t *testing.T, newAdapter func(t *testing.T) pubsub.Adapter) *env {
	return &env{t: t, newAdapter: newAdapter, id: uuid.NewString()[:8]}
}

// topic returns a topic name unique to this case.
func (e *env) topic(name string) string { return "pubsubtest:" + e.id + ":" + name }

// nodeName returns a node name unique to this case.
func (e *env) nodeName(name string) string { return "pubsubtest-" + e.id + "-" + name }

// node is one PubSub of the case, on an adapter wrapped in a spy.
type node struct {
	*pubsub.PubSub
	spy *spy
}

// start starts a node named name (made unique) on a new adapter; it is
// closed when the case ends, and the spy's findings are reported then.
func (e *env) start(name string) *node {
	t := e.t
	t.Helper()
	a := e.newAdapter(t)
	if a == nil {
		t.Fatal("newAdapter returned nil")
	}
	s := &spy{Adapter: a, env: e, got: newInbox()}
	ps, err := pubsub.New(context.Background(), &pubsub.Options{
		Node:    e.nodeName(name),
		Adapter: s,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("starting node %s: %v", name, err)
	}
	n := &node{PubSub: ps, spy: s}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := ps.Close(ctx); err != nil {
			t.Errorf("closing node %s: %v", ps.Node(), err)
		}
		s.report(t, ps.Node())
	})
	return n
}

// subscribe subscribes a new inbox to topic on n.
func (n *node) subscribe(t *testing.T, topic string) (*inbox, *pubsub.Subscription) {
	t.Helper()
	b := newInbox()
	sub, err := n.Subscribe(topic, b)
	if err != nil {
		t.Fatalf("node %s: Subscribe(%q): %v", n.Node(), topic, err)
	}
	return b, sub
}

// broadcast broadcasts m from n and fails the test on error.
func (n *node) broadcast(t *testing.T, m *pubsub.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.Broadcast(ctx, m); err != nil {
		t.Fatalf("node %s: Broadcast(%q, %q): %v", n.Node(), m.Topic, m.Event, err)
	}
}

// direct sends m from n to node to and fails the test on error.
func (n *node) direct(t *testing.T, to *node, m *pubsub.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.DirectBroadcast(ctx, to.Node(), m); err != nil {
		t.Fatalf("node %s: DirectBroadcast(%s, %q, %q): %v", n.Node(), to.Node(), m.Topic, m.Event, err)
	}
}

// msg returns a message with a small JSON payload.
func msg(topic, event string) *pubsub.Message {
	return &pubsub.Message{Topic: topic, Event: event, Payload: protocol.JSON([]byte(`{"pubsubtest":true}`))}
}

// inbox is a Subscriber that keeps every message it gets, and lets the
// test wait for them.
type inbox struct {
	mu   sync.Mutex
	msgs []*pubsub.Message
	wake chan struct{} // Closed, and replaced, on each message.
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{})} }

// Deliver keeps m: the message is read-only, keeping it is allowed.
func (b *inbox) Deliver(m *pubsub.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// all returns the messages got so far, probes included.
func (b *inbox) all() []*pubsub.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.msgs
}

// got returns the messages got so far, without the probes.
func (b *inbox) got() []*pubsub.Message {
	var out []*pubsub.Message
	for _, m := range b.all() {
		if !strings.HasPrefix(m.Event, probePrefix) {
			out = append(out, m)
		}
	}
	return out
}

// with returns the messages of b with event (probes excluded).
func (b *inbox) with(event string) []*pubsub.Message {
	var out []*pubsub.Message
	for _, m := range b.all() {
		if m.Event == event {
			out = append(out, m)
		}
	}
	return out
}

// waitFor waits until cond holds for the messages got so far (probes
// included), for at most timeout, and fails the test, saying what was
// expected, if it does not.
func (b *inbox) waitFor(t *testing.T, what string, cond func(msgs []*pubsub.Message) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		ok, wake := cond(b.msgs), b.wake
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

// waitEvent waits for a message with event and returns the first one.
func (b *inbox) waitEvent(t *testing.T, who, event string) *pubsub.Message {
	t.Helper()
	var found *pubsub.Message
	b.waitFor(t, fmt.Sprintf("%s waits for event %q", who, event), func(msgs []*pubsub.Message) bool {
		for _, m := range msgs {
			if m.Event == event {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitCount waits until b has got n messages other than probes.
func (b *inbox) waitCount(t *testing.T, who string, n int) {
	t.Helper()
	b.waitFor(t, fmt.Sprintf("%s waits for %d messages", who, n), func(msgs []*pubsub.Message) bool {
		c := 0
		for _, m := range msgs {
			if !strings.HasPrefix(m.Event, probePrefix) {
				c++
			}
		}
		return c >= n
	})
}

// poll calls try(0), try(1), ... every pollEvery until it returns true,
// for at most timeout, and fails the test with what otherwise.
func poll(t *testing.T, what string, try func(k int) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for k := 0; ; k++ {
		if try(k) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		<-tick.C
	}
}

// settle waits until the broadcasts of from on topic reach every inbox,
// by broadcasting probes until each has got one: the watches of their
// nodes have then reached the broker, and the later broadcasts of from
// reach them.
func settle(t *testing.T, from *node, topic string, boxes ...*inbox) {
	t.Helper()
	poll(t, fmt.Sprintf("broadcasts of %s on %q reach every subscriber", from.Node(), topic), func(k int) bool {
		from.broadcast(t, msg(topic, fmt.Sprintf("%s%d", probePrefix, k)))
		for _, b := range boxes {
			if !hasProbeFrom(b.all(), from.Node()) {
				return false
			}
		}
		return true
	})
}

func hasProbeFrom(msgs []*pubsub.Message, node string) bool {
	for _, m := range msgs {
		if m.Origin == node && strings.HasPrefix(m.Event, probePrefix) {
			return true
		}
	}
	return false
}

// spy wraps the adapter under test: it records what the adapter hands to
// recv and checks it against the rules for adapters.
type spy struct {
	pubsub.Adapter
	env    *env
	node   string
	got    *inbox      // Every message handed to recv.
	closed atomic.Bool // Close has returned.

	mu       sync.Mutex
	problems map[string]int // Broken rules, and how often.
}

func (s *spy) Start(ctx context.Context, node string, recv func(*pubsub.Message)) error {
	s.node = node
	return s.Adapter.Start(ctx, node, func(m *pubsub.Message) {
		s.check(m)
		s.got.Deliver(m)
		recv(m)
	})
}

func (s *spy) Broadcast(ctx context.Context, m *pubsub.Message) error {
	s.env.sent.Store(m, struct{}{})
	return s.Adapter.Broadcast(ctx, m)
}

func (s *spy) DirectBroadcast(ctx context.Context, node string, m *pubsub.Message) error {
	if node == s.node {
		s.problem("the PubSub called DirectBroadcast with its own node name") // A bug of package pubsub.
	}
	s.env.sent.Store(m, struct{}{})
	return s.Adapter.DirectBroadcast(ctx, node, m)
}

func (s *spy) Close(ctx context.Context) error {
	err := s.Adapter.Close(ctx)
	s.closed.Store(true)
	return err
}

// check notes the rules m breaks.
func (s *spy) check(m *pubsub.Message) {
	if s.closed.Load() {
		s.problem("recv called after Close returned")
	}
	if m.Origin == "" {
		s.problem("recv got a message without Origin")
	}
	if m.From != nil {
		s.problem("recv got a message with From set: adapters do not carry From")
	}
	if _, ok := s.env.sent.Load(m); ok {
		s.problem("recv got the *Message given to Broadcast or DirectBroadcast, not a new one")
	}
}

func (s *spy) problem(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.problems == nil {
		s.problems = make(map[string]int)
	}
	s.problems[p]++
}

// report fails the test for each rule broken so far.
func (s *spy) report(t *testing.T, node string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, n := range s.problems {
		t.Errorf("node %s: %s (%d times)", node, p, n)
	}
}

// gotFromAdapter reports whether the adapter handed n a message of topic
// with event.
func (n *node) gotFromAdapter(topic, event string) bool {
	for _, m := range n.spy.got.all() {
		if m.Topic == topic && m.Event == event {
			return true
		}
	}
	return false
}
