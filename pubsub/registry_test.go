package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

func TestSubscribeBroadcastUnsubscribe(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, &pubsub.Options{Node: "n1"})
	ctx := context.Background()
	a, b, c, other := &rec{}, &rec{}, &rec{}, &rec{}
	subA := subscribe(t, ps, "room:1", a)
	subscribe(t, ps, "room:1", b)
	subC := subscribe(t, ps, "room:1", c)
	subscribe(t, ps, "room:2", other)
	if n := ps.Subscribers("room:1"); n != 3 {
		t.Fatalf("Subscribers = %d, want 3", n)
	}
	if subA.Topic() != "room:1" {
		t.Fatalf("Topic = %q", subA.Topic())
	}

	if err := ps.Broadcast(ctx, msg("room:1", "e1")); err != nil {
		t.Fatal(err)
	}
	// Removing the first subscription moves the last one into its place.
	subA.Unsubscribe()
	subA.Unsubscribe() // Twice: ignored.
	var none *pubsub.Subscription
	none.Unsubscribe() // nil: ignored.
	if err := ps.LocalBroadcast(msg("room:1", "e2")); err != nil {
		t.Fatal(err)
	}
	subC.Unsubscribe()
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
	if n := ps.Subscribers("never"); n != 0 {
		t.Fatalf("Subscribers of an unknown topic = %d", n)
	}
}

// Each Subscribe is a subscription: the same subscriber twice gets each
// message twice, and each Unsubscribe ends one, as in Phoenix.
func TestSubscribeTwice(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, nil)
	r := &rec{}
	s1 := subscribe(t, ps, "t", r)
	s2 := subscribe(t, ps, "t", r)
	_ = ps.LocalBroadcast(msg("t", "e"))
	if got := r.got(); got != "t/e,t/e" {
		t.Fatalf("got %q, want two deliveries", got)
	}
	// From spares one subscription, not the subscriber.
	m := msg("t", "from")
	m.From = s1
	_ = ps.LocalBroadcast(m)
	if got := r.got(); got != "t/e,t/e,t/from" {
		t.Fatalf("got %q", got)
	}
	s1.Unsubscribe()
	if n := ps.Subscribers("t"); n != 1 {
		t.Fatalf("Subscribers = %d after one Unsubscribe, want 1", n)
	}
	s2.Unsubscribe()
	if n := ps.Subscribers("t"); n != 0 {
		t.Fatalf("Subscribers = %d after both, want 0", n)
	}
}

func TestBroadcastFromSkipsSender(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, nil)
	from, to := &rec{}, &rec{}
	fromSub := subscribe(t, ps, "t", from)
	subscribe(t, ps, "t", to)
	m := msg("t", "e")
	m.From = fromSub
	if err := ps.Broadcast(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if from.got() != "" || to.got() != "t/e" {
		t.Fatalf("from got %q, to got %q", from.got(), to.got())
	}
	// A subscription of another topic, or an ended one, spares nobody.
	m = msg("t", "e2")
	m.From = subscribe(t, ps, "elsewhere", &rec{})
	_ = ps.LocalBroadcast(m)
	fromSub.Unsubscribe()
	m = msg("t", "e3")
	m.From = fromSub
	_ = ps.LocalBroadcast(m)
	if to.got() != "t/e,t/e2,t/e3" {
		t.Fatalf("to got %q", to.got())
	}
}

// A SubscriberFunc works as a value, and subscribers need not be
// comparable: the PubSub keeps subscriptions, not subscribers.
func TestSubscriberValues(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, nil)
	var n1, n2 atomic.Int32
	f1 := pubsub.SubscriberFunc(func(*pubsub.Message) { n1.Add(1) })
	s1 := subscribe(t, ps, "f", f1)
	subscribe(t, ps, "f", pubsub.SubscriberFunc(func(*pubsub.Message) { n2.Add(1) }))
	m := msg("f", "e")
	m.From = s1
	_ = ps.LocalBroadcast(m)
	_ = ps.LocalBroadcast(msg("f", "e"))
	if n1.Load() != 1 || n2.Load() != 2 {
		t.Fatalf("f1 got %d (want 1), f2 got %d (want 2)", n1.Load(), n2.Load())
	}
	s1.Unsubscribe()

	// A struct holding a slice: comparing two such interface values panics.
	var got []string
	var mu sync.Mutex
	nc := sliceSub{tags: []string{"x"}, got: &got, mu: &mu}
	s := subscribe(t, ps, "nc", nc)
	subscribe(t, ps, "nc", sliceSub{tags: []string{"y"}, got: &got, mu: &mu})
	m = msg("nc", "e")
	m.From = s
	_ = ps.LocalBroadcast(m)
	s.Unsubscribe()
	_ = ps.LocalBroadcast(msg("nc", "e"))
	if strings.Join(got, ",") != "y,y" {
		t.Fatalf("non-comparable subscribers got %q, want y,y", got)
	}
}

type sliceSub struct {
	tags []string
	got  *[]string
	mu   *sync.Mutex
}

func (s sliceSub) Deliver(*pubsub.Message) {
	s.mu.Lock()
	*s.got = append(*s.got, s.tags...)
	s.mu.Unlock()
}

func TestSubscribeNilPanics(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("Subscribe(nil) did not panic")
		}
	}()
	_, _ = ps.Subscribe("t", nil)
}

func TestNodeNames(t *testing.T) {
	t.Parallel()
	if n := newPubSub(t, &pubsub.Options{Node: "node-a"}).Node(); n != "node-a" {
		t.Fatalf("Node = %q", n)
	}
	opts := &pubsub.Options{}
	a := newPubSub(t, opts)
	ps, err := pubsub.New(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(context.Background())
	if opts.Node != "" || opts.Logger != discard {
		t.Fatalf("New changed its Options: %+v", opts)
	}
	if a.Node() == ps.Node() || !strings.HasPrefix(a.Node(), "pyre-") || !strings.HasPrefix(ps.Node(), "pyre-") {
		t.Fatalf("random node names %q and %q", a.Node(), ps.Node())
	}
}

// Without an adapter a PubSub is alone: every other node is unknown.
func TestDirectBroadcastWithoutAdapter(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, &pubsub.Options{Node: "me"})
	r := &rec{}
	subscribe(t, ps, "t", r)
	ctx := context.Background()
	for _, node := range []string{"other", ""} {
		if err := ps.DirectBroadcast(ctx, node, msg("t", "e")); !errors.Is(err, pubsub.ErrUnknownNode) {
			t.Fatalf("DirectBroadcast to %q: %v, want ErrUnknownNode", node, err)
		}
	}
	if got := r.got(); got != "" {
		t.Fatalf("delivered %q despite the error", got)
	}
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, &pubsub.Options{Node: "me"})
	ctx := context.Background()
	send := map[string]func(*pubsub.Message) error{
		"Broadcast":       func(m *pubsub.Message) error { return ps.Broadcast(ctx, m) },
		"LocalBroadcast":  ps.LocalBroadcast,
		"DirectBroadcast": func(m *pubsub.Message) error { return ps.DirectBroadcast(ctx, "me", m) },
	}
	for name, f := range send {
		m := msg("t", "e")
		if err := f(m); err != nil || m.Origin != "me" {
			t.Errorf("%s: err %v, Origin %q, want me", name, err, m.Origin)
		}
		m = msg("t", "e")
		m.Origin = "set"
		if err := f(m); err != nil || m.Origin != "set" {
			t.Errorf("%s changed a set Origin: err %v, Origin %q", name, err, m.Origin)
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	a := &fakeAdapter{}
	ps := newPubSub(t, &pubsub.Options{Node: "me", Adapter: a})
	r := &rec{}
	sub := subscribe(t, ps, "t", r)
	ctx := context.Background()
	if err := ps.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ps.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := ps.Subscribe("t", r); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe: %v, want ErrClosed", err)
	}
	if err := ps.Broadcast(ctx, msg("t", "e")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Broadcast: %v, want ErrClosed", err)
	}
	if err := ps.LocalBroadcast(msg("t", "e")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("LocalBroadcast: %v, want ErrClosed", err)
	}
	for _, node := range []string{"me", "other"} {
		if err := ps.DirectBroadcast(ctx, node, msg("t", "e")); !errors.Is(err, pubsub.ErrClosed) {
			t.Errorf("DirectBroadcast to %s: %v, want ErrClosed", node, err)
		}
	}
	a.recv(&pubsub.Message{Topic: "t", Event: "late", Origin: "other"})
	sub.Unsubscribe() // Still allowed; the adapter is not told.
	if n := ps.Subscribers("t"); n != 0 {
		t.Errorf("Subscribers = %d after Unsubscribe", n)
	}
	if got := r.got(); got != "" {
		t.Errorf("delivered %q after Close", got)
	}
	if got, want := a.log(), "start me,watch t,close"; got != want {
		t.Errorf("adapter calls %q, want %q", got, want)
	}
}

// The PubSub drives its adapter: Watch on a topic's first subscription,
// Unwatch on its last, broadcasts after local delivery, errors returned.
func TestAdapterCalls(t *testing.T) {
	t.Parallel()
	a := &fakeAdapter{}
	ps := newPubSub(t, &pubsub.Options{Node: "me", Adapter: a})
	ctx := context.Background()
	r := &rec{}
	s1 := subscribe(t, ps, "t", r)
	s2 := subscribe(t, ps, "t", r)
	s1.Unsubscribe()
	s2.Unsubscribe()
	s2.Unsubscribe()
	s3 := subscribe(t, ps, "t", r)

	m := msg("t", "b")
	if err := ps.Broadcast(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := ps.DirectBroadcast(ctx, "other", msg("t", "d")); err != nil {
		t.Fatal(err)
	}
	_ = ps.DirectBroadcast(ctx, "me", msg("t", "self")) // Local: not the adapter.
	if got, want := a.log(), "start me,watch t,unwatch t,watch t,broadcast t/b,direct other t/d"; got != want {
		t.Errorf("adapter calls %q, want %q", got, want)
	}

	// Errors are returned; local delivery happened anyway.
	a.setErr(pubsub.ErrUnknownNode)
	if err := ps.Broadcast(ctx, msg("t", "failed")); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Errorf("Broadcast: %v, want the adapter's error", err)
	}
	if err := ps.DirectBroadcast(ctx, "gone", msg("t", "x")); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Errorf("DirectBroadcast: %v, want the adapter's error", err)
	}

	// From other nodes: every subscriber (From does not apply), except
	// this node's own messages coming back.
	a.recv(&pubsub.Message{Topic: "t", Event: "remote", Origin: "other", From: s3})
	a.recv(&pubsub.Message{Topic: "t", Event: "echo", Origin: "me"})
	a.recv(&pubsub.Message{Topic: "nobody", Event: "x", Origin: "other"})
	if got, want := r.got(), "t/b,t/self,t/failed,t/remote"; got != want {
		t.Errorf("subscriber got %q, want %q", got, want)
	}
}

// Subscription.Ready: closed at once without an adapter and for a watch
// that took effect in Watch; otherwise the channel of the topic's watch,
// shared by the subscriptions made under it, until the adapter closes it;
// a new watch of the topic gets a new channel.
func TestReady(t *testing.T) {
	t.Parallel()
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}

	alone := newPubSub(t, nil)
	if sub := subscribe(t, alone, "t", &counter{}); !closed(sub.Ready()) {
		t.Error("without an adapter: Ready not closed")
	}
	instant := newPubSub(t, &pubsub.Options{Adapter: &fakeAdapter{}})
	if sub := subscribe(t, instant, "t", &counter{}); !closed(sub.Ready()) {
		t.Error("with an adapter whose Watch returns nil: Ready not closed")
	}
	var nilSub *pubsub.Subscription
	if !closed(nilSub.Ready()) {
		t.Error("a nil Subscription: Ready not closed")
	}

	a := &fakeAdapter{readies: map[string][]chan struct{}{}}
	ps := newPubSub(t, &pubsub.Options{Adapter: a})
	first := subscribe(t, ps, "t", &counter{})
	second := subscribe(t, ps, "t", &counter{}) // Before the watch took effect.
	other := subscribe(t, ps, "u", &counter{})
	if closed(first.Ready()) || closed(second.Ready()) {
		t.Fatal("Ready closed before the adapter closed the watch's channel")
	}
	if first.Ready() != second.Ready() {
		t.Error("two subscriptions made under one watch have different Ready channels")
	}
	a.confirm("t")
	if !closed(first.Ready()) || !closed(second.Ready()) {
		t.Error("Ready not closed after the adapter closed the watch's channel")
	}
	if closed(other.Ready()) {
		t.Error("another topic's Ready closed with t's")
	}
	third := subscribe(t, ps, "t", &counter{})
	if !closed(third.Ready()) {
		t.Error("a subscription to a topic whose watch took effect: Ready not closed")
	}

	// Unwatched, then watched again: a new watch, a new channel.
	first.Unsubscribe()
	second.Unsubscribe()
	third.Unsubscribe()
	again := subscribe(t, ps, "t", &counter{})
	if closed(again.Ready()) {
		t.Error("a topic watched again: Ready closed before its new watch took effect")
	}
	if !closed(first.Ready()) {
		t.Error("an ended subscription: Ready not closed")
	}
	other.Unsubscribe()
	if !closed(other.Ready()) {
		t.Error("an ended subscription whose watch never took effect: Ready not closed")
	}
	a.confirm("t")
	if !closed(again.Ready()) {
		t.Error("Ready not closed after the new watch took effect")
	}
}

func TestNewAdapterStartError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := pubsub.New(context.Background(), &pubsub.Options{Adapter: &fakeAdapter{startErr: boom}, Logger: discard})
	if !errors.Is(err, boom) {
		t.Fatalf("New: %v, want the Start error", err)
	}
}

// Subscriptions, unsubscriptions and broadcasts from many goroutines, on
// shared and separate topics (run with -race); the adapter sees Watch and
// Unwatch alternate for each topic.
func TestConcurrentSubscribeBroadcast(t *testing.T) {
	t.Parallel()
	a := &fakeAdapter{quiet: true}
	ps := newPubSub(t, &pubsub.Options{Adapter: a})
	const workers, rounds = 8, 200
	stable := &counter{}
	subscribe(t, ps, "shared", stable)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			mine := &counter{}
			for i := range rounds {
				topic := fmt.Sprintf("t%d", i%16)
				s1, err1 := ps.Subscribe(topic, mine)
				s2, err2 := ps.Subscribe("shared", mine)
				if err1 != nil || err2 != nil {
					t.Error(err1, err2)
					return
				}
				_ = ps.Broadcast(context.Background(), msg("shared", "e"))
				_ = ps.LocalBroadcast(msg(topic, "e"))
				_ = ps.Subscribers(topic)
				s1.Unsubscribe()
				s2.Unsubscribe()
			}
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
	if bad := a.problems(); bad != "" {
		t.Fatal(bad)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.watched) != 1 || !a.watched["shared"] {
		t.Fatalf("watched at the end: %v, want shared only", a.watched)
	}
}

// Removing subscriptions in any order keeps the others, including when a
// topic that had many gives its memory back.
func TestUnsubscribeManyInAnyOrder(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, nil)
	const n = 1000
	counts := make([]counter, n)
	subs := make([]*pubsub.Subscription, n)
	for i := range subs {
		subs[i] = subscribe(t, ps, "t", &counts[i])
	}
	order := rand.Perm(n)
	for _, i := range order[:n-10] {
		subs[i].Unsubscribe()
	}
	_ = ps.LocalBroadcast(msg("t", "e"))
	kept := map[int]bool{}
	for _, i := range order[n-10:] {
		kept[i] = true
	}
	for i := range counts {
		want := int64(0)
		if kept[i] {
			want = 1
		}
		if got := counts[i].n.Load(); got != want {
			t.Fatalf("subscriber %d got %d messages, want %d", i, got, want)
		}
	}
	if got := ps.Subscribers("t"); got != 10 {
		t.Fatalf("Subscribers = %d, want 10", got)
	}
	for _, i := range order[n-10:] {
		subs[i].Unsubscribe()
	}
	if got := ps.Subscribers("t"); got != 0 {
		t.Fatalf("Subscribers = %d, want 0", got)
	}
}

// The hot path: a broadcast to local subscribers allocates nothing, nor
// does a cached frame; a subscription allocates itself only.
func TestAllocs(t *testing.T) {
	ps := newPubSub(t, nil)
	for range 100 {
		subscribe(t, ps, "t", &counter{})
	}
	m := msg("t", "e")
	if n := testing.AllocsPerRun(100, func() { _ = ps.Broadcast(context.Background(), m) }); n != 0 {
		t.Errorf("Broadcast to 100 subscribers: %v allocations, want 0", n)
	}
	_, _ = m.Frame(protocol.V2)
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Frame(protocol.V2) }); n != 0 {
		t.Errorf("Frame of an encoded message: %v allocations, want 0", n)
	}
	s := &counter{}
	if n := testing.AllocsPerRun(100, func() {
		sub, _ := ps.Subscribe("t", s)
		sub.Unsubscribe()
	}); n != 1 {
		t.Errorf("Subscribe and Unsubscribe: %v allocations, want 1", n)
	}
	sub := subscribe(t, ps, "t", s)
	if n := testing.AllocsPerRun(100, func() { <-sub.Ready() }); n != 0 {
		t.Errorf("Ready without an adapter: %v allocations, want 0", n)
	}
	a := &fakeAdapter{readies: map[string][]chan struct{}{}}
	watched := newPubSub(t, &pubsub.Options{Adapter: a})
	sub = subscribe(t, watched, "t", s)
	a.confirm("t")
	if n := testing.AllocsPerRun(100, func() { <-sub.Ready() }); n != 0 {
		t.Errorf("Ready of a topic whose watch took effect: %v allocations, want 0", n)
	}
}

// fakeAdapter records the calls of its PubSub and checks that Watch and
// Unwatch alternate for each topic and stop at Close.
type fakeAdapter struct {
	quiet    bool // Do not record broadcasts.
	startErr error

	mu      sync.Mutex
	calls   []string
	watched map[string]bool
	bad     []string
	err     error
	closed  bool
	recv    func(*pubsub.Message)
	// readies holds the ready channels Watch returned, by topic, not
	// closed yet; nil: Watch returns nil (the watch takes effect at once).
	readies map[string][]chan struct{}
}

var _ pubsub.Adapter = (*fakeAdapter)(nil)

func (a *fakeAdapter) record(call string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
}

func (a *fakeAdapter) log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.calls, ",")
}

func (a *fakeAdapter) problems() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.bad, "; ")
}

func (a *fakeAdapter) setErr(err error) {
	a.mu.Lock()
	a.err = err
	a.mu.Unlock()
}

func (a *fakeAdapter) Start(_ context.Context, node string, recv func(*pubsub.Message)) error {
	if a.startErr != nil {
		return a.startErr
	}
	a.recv = recv
	a.record("start " + node)
	return nil
}

func (a *fakeAdapter) Broadcast(_ context.Context, m *pubsub.Message) error {
	if !a.quiet {
		a.record("broadcast " + m.Topic + "/" + m.Event)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *fakeAdapter) DirectBroadcast(_ context.Context, node string, m *pubsub.Message) error {
	a.record("direct " + node + " " + m.Topic + "/" + m.Event)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *fakeAdapter) Watch(topic string) <-chan struct{} {
	a.watch(topic, true)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.readies == nil {
		return nil
	}
	ready := make(chan struct{})
	a.readies[topic] = append(a.readies[topic], ready)
	return ready
}

func (a *fakeAdapter) Unwatch(topic string) { a.watch(topic, false) }

// confirm closes the ready channels of topic's watches so far: they have
// taken effect.
func (a *fakeAdapter) confirm(topic string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ready := range a.readies[topic] {
		close(ready)
	}
	delete(a.readies, topic)
}

func (a *fakeAdapter) watch(topic string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.watched == nil {
		a.watched = make(map[string]bool)
	}
	if a.watched[topic] == on || a.closed {
		a.bad = append(a.bad, fmt.Sprintf("watch %q %v out of turn", topic, on))
	}
	a.watched[topic] = on
	if !on {
		delete(a.watched, topic)
	}
	if !a.quiet {
		a.calls = append(a.calls, map[bool]string{true: "watch ", false: "unwatch "}[on]+topic)
	}
}

func (a *fakeAdapter) Close(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.calls = append(a.calls, "close")
	return nil
}
