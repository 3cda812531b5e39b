package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/pubsubtest"
)

func TestClusterAdapter(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	pubsubtest.TestAdapter(t, func(*testing.T) pubsub.Adapter { return c.Adapter() })
}

// clusterNode is one node of a Cluster in a test.
type clusterNode struct {
	*pubsub.PubSub
	adapter *pubsub.ClusterAdapter
}

func startNode(t *testing.T, c *pubsub.Cluster, name string) clusterNode {
	t.Helper()
	a := c.Adapter()
	return clusterNode{newPubSub(t, &pubsub.Options{Node: name, Adapter: a}), a}
}

// The Cluster delivers before Broadcast returns, to the nodes that watch
// the topic, each a copy.
func TestClusterSynchronousCopies(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b, d := startNode(t, c, "a"), startNode(t, c, "b"), startNode(t, c, "d")
	var mu sync.Mutex
	var seen []*pubsub.Message
	keep := pubsub.SubscriberFunc(func(m *pubsub.Message) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	})
	fromSub := subscribe(t, a, "t", keep)
	subscribe(t, b, "t", keep)
	subscribe(t, d, "t", keep)
	subscribe(t, d, "other", &rec{})

	ctx := context.Background()
	buf := []byte{1, 2, 3}
	m := &pubsub.Message{Topic: "t", Event: "e", Payload: protocol.Binary(buf), From: fromSub}
	if err := a.Broadcast(ctx, m); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("%d deliveries when Broadcast returned, want 2 (b and d; a is From)", len(seen))
	}
	for _, got := range seen {
		if got == m || got.From != nil || got.Origin != "a" || got.Topic != "t" || got.Event != "e" {
			t.Fatalf("not a copy without From: %+v", got)
		}
		if !got.Payload.IsBinary() || string(got.Payload.Bytes()) != "\x01\x02\x03" || &got.Payload.Bytes()[0] == &buf[0] {
			t.Fatalf("payload not copied as binary: %+v", got.Payload)
		}
	}
	if seen[0] == seen[1] {
		t.Fatal("two nodes share one copy")
	}
}

func TestClusterDisconnect(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b := startNode(t, c, "a"), startNode(t, c, "b")
	ra, rb := &rec{}, &rec{}
	subscribe(t, a, "t", ra)
	subscribe(t, b, "t", rb)
	ctx := context.Background()

	b.adapter.Disconnect()
	if b.adapter.Connected() {
		t.Fatal("Connected after Disconnect")
	}
	if err := a.Broadcast(ctx, msg("t", "from-a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Broadcast(ctx, msg("t", "from-b")); err != nil {
		t.Fatal(err)
	}
	if ra.got() != "t/from-a" || rb.got() != "t/from-b" {
		t.Fatalf("while disconnected: a %q, b %q", ra.got(), rb.got())
	}
	if err := a.DirectBroadcast(ctx, "b", msg("t", "x")); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Fatalf("direct to a disconnected node: %v", err)
	}
	if err := b.DirectBroadcast(ctx, "a", msg("t", "x")); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Fatalf("direct from a disconnected node: %v", err)
	}

	b.adapter.Connect()
	if !b.adapter.Connected() {
		t.Fatal("not Connected after Connect")
	}
	if err := a.Broadcast(ctx, msg("t", "again")); err != nil {
		t.Fatal(err)
	}
	if err := a.DirectBroadcast(ctx, "b", msg("t", "direct")); err != nil {
		t.Fatal(err)
	}
	if rb.got() != "t/from-b,t/again,t/direct" {
		t.Fatalf("after Connect: b %q", rb.got())
	}
}

// Node names are unique among the running nodes; a closed node frees its
// name and cannot start again.
func TestClusterNodeNames(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a := startNode(t, c, "a")
	if _, err := pubsub.New(context.Background(), &pubsub.Options{Node: "a", Adapter: c.Adapter(), Logger: discard}); err == nil {
		t.Fatal("a second node named a started")
	}
	ctx := context.Background()
	if err := a.adapter.Start(ctx, "z", func(*pubsub.Message) {}); err == nil {
		t.Fatal("an adapter started twice")
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.adapter.Start(ctx, "a", func(*pubsub.Message) {}); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
	if err := a.adapter.Broadcast(ctx, msg("t", "e")); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("Broadcast after Close: %v, want ErrClosed", err)
	}
	again := startNode(t, c, "a")
	b := startNode(t, c, "b")
	r := &rec{}
	subscribe(t, again, "t", r)
	if err := b.DirectBroadcast(ctx, "a", msg("t", "e")); err != nil || r.got() != "t/e" {
		t.Fatalf("to the new a: %v, got %q", err, r.got())
	}

	idle := c.Adapter()
	if err := idle.Broadcast(ctx, msg("t", "e")); err == nil {
		t.Fatal("Broadcast before Start: no error")
	}
	if err := idle.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClusterContext(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b := startNode(t, c, "a"), startNode(t, c, "b")
	ra, rb := &rec{}, &rec{}
	subscribe(t, a, "t", ra)
	subscribe(t, b, "t", rb)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Broadcast(ctx, msg("t", "e")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Broadcast with a canceled context: %v", err)
	}
	if err := a.DirectBroadcast(ctx, "b", msg("t", "e")); !errors.Is(err, context.Canceled) {
		t.Fatalf("DirectBroadcast with a canceled context: %v", err)
	}
	if ra.got() != "t/e" || rb.got() != "" {
		t.Fatalf("a got %q (want the local delivery), b got %q", ra.got(), rb.got())
	}
}

// Broadcasts from every node while nodes subscribe, unsubscribe and close
// (run with -race): no delivery reaches a node after its Close returned.
func TestClusterConcurrent(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	const nodes, per = 4, 200
	var ns []clusterNode
	counts := make([]*counter, nodes)
	for i := range nodes {
		ns = append(ns, startNode(t, c, fmt.Sprint("n", i)))
		counts[i] = &counter{}
		subscribe(t, ns[i], "t", counts[i])
	}
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() {
			for range per {
				if err := n.Broadcast(context.Background(), msg("t", "e")); err != nil {
					t.Error(err)
				}
				sub := subscribe(t, n, "churn", &counter{})
				_ = n.Broadcast(context.Background(), msg("churn", "e"))
				sub.Unsubscribe()
			}
		})
	}
	wg.Wait()
	for i, cnt := range counts {
		if got := cnt.n.Load(); got != nodes*per {
			t.Errorf("node %d got %d messages, want %d", i, got, nodes*per)
		}
	}

	// Close one node while the others broadcast to it.
	var closed atomic.Bool
	var late atomic.Int32
	victim := c.Adapter()
	vps := newPubSub(t, &pubsub.Options{Node: "victim", Adapter: victim})
	subscribe(t, vps, "t", pubsub.SubscriberFunc(func(*pubsub.Message) {
		if closed.Load() {
			late.Add(1)
		}
	}))
	stop := make(chan struct{})
	for _, n := range ns {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = n.Broadcast(context.Background(), msg("t", "e"))
				}
			}
		})
	}
	if err := vps.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	for range 100 {
		_ = ns[0].Broadcast(context.Background(), msg("t", "e"))
	}
	close(stop)
	wg.Wait()
	if n := late.Load(); n != 0 {
		t.Fatalf("%d deliveries after Close returned", n)
	}
}
