package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

func TestClusterBroadcastReachesEveryNode(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b, d := c.Node("a"), c.Node("b"), c.Node("d")
	if c.Node("a") != a {
		t.Fatal("Node(a) twice returned two nodes")
	}
	if a.Node() != "a" || b.Node() != "b" {
		t.Fatalf("names: %q %q", a.Node(), b.Node())
	}
	ra, rb, rd, rbOther := &rec{}, &rec{}, &rec{}, &rec{}
	a.Subscribe("room:1", ra)
	b.Subscribe("room:1", rb)
	d.Subscribe("room:1", rd)
	b.Subscribe("room:2", rbOther)
	ctx := context.Background()

	if err := b.Broadcast(ctx, msg("room:1", "e1")); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*rec{"a": ra, "b": rb, "d": rd} {
		if got := r.got(); got != "room:1/e1" {
			t.Errorf("node %s got %q, want room:1/e1", name, got)
		}
	}
	if got := rbOther.got(); got != "" {
		t.Errorf("room:2 subscriber got %q", got)
	}

	// LocalBroadcast stays on its node.
	a.LocalBroadcast(msg("room:1", "local"))
	if ra.got() != "room:1/e1,room:1/local" || rb.got() != "room:1/e1" {
		t.Errorf("after LocalBroadcast: a %q, b %q", ra.got(), rb.got())
	}
}

func TestClusterDirectBroadcast(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b, d := c.Node("a"), c.Node("b"), c.Node("d")
	ra, rb, rd := &rec{}, &rec{}, &rec{}
	a.Subscribe("t", ra)
	b.Subscribe("t", rb)
	d.Subscribe("t", rd)
	ctx := context.Background()

	if err := a.DirectBroadcast(ctx, "b", msg("t", "to-b")); err != nil {
		t.Fatal(err)
	}
	if err := a.DirectBroadcast(ctx, "a", msg("t", "to-a")); err != nil {
		t.Fatal(err)
	}
	if ra.got() != "t/to-a" || rb.got() != "t/to-b" || rd.got() != "" {
		t.Fatalf("a %q, b %q, d %q", ra.got(), rb.got(), rd.got())
	}
	if err := a.DirectBroadcast(ctx, "nowhere", msg("t", "x")); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Fatalf("unknown node: err %v, want ErrUnknownNode", err)
	}
}

// A message reaches other nodes as a copy without From, as over a network:
// From is a subscriber of the sending node.
func TestClusterRemoteCopyDropsFrom(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b := c.Node("a"), c.Node("b")
	var mu sync.Mutex
	var seen []*pubsub.Message
	sender := pubsub.SubscriberFunc(func(m *pubsub.Message) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	})
	other := &rec{}
	a.Subscribe("t", &sender)
	a.Subscribe("t", other)
	b.Subscribe("t", &sender) // the same value subscribed on b

	m := msg("t", "e")
	m.From = &sender
	if err := a.Broadcast(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] == m || seen[0].From != nil {
		t.Fatalf("sender got %d messages (want 1, a copy without From): %+v", len(seen), seen)
	}
	if string(seen[0].Payload.Bytes()) != `{"k":1}` || seen[0].Event != "e" || seen[0].Topic != "t" {
		t.Fatalf("copy differs: %+v", seen[0])
	}
	if other.got() != "t/e" {
		t.Fatalf("other local subscriber got %q", other.got())
	}
}

func TestClusterDisconnect(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	a, b := c.Node("a"), c.Node("b")
	ra, rb := &rec{}, &rec{}
	a.Subscribe("t", ra)
	b.Subscribe("t", rb)
	ctx := context.Background()

	b.Disconnect()
	if b.Connected() {
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

	b.Connect()
	if err := a.Broadcast(ctx, msg("t", "again")); err != nil {
		t.Fatal(err)
	}
	if rb.got() != "t/from-b,t/again" {
		t.Fatalf("after Connect: b %q", rb.got())
	}
}

func TestClusterRandomNames(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	x, y := c.Node(""), c.Node("")
	if x == y || x.Node() == "" || x.Node() == y.Node() {
		t.Fatalf("Node(\"\") twice: %q and %q", x.Node(), y.Node())
	}
	if c.Node(x.Node()) != x {
		t.Fatal("a random-named node is not found by its name")
	}
}

func TestClusterConcurrent(t *testing.T) {
	t.Parallel()
	c := pubsub.NewCluster()
	const nodes, per = 4, 200
	counts := make([]*counter, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		n := c.Node(fmt.Sprint("n", i))
		counts[i] = &counter{}
		n.Subscribe("t", counts[i])
	}
	for i := range nodes {
		wg.Go(func() {
			n := c.Node(fmt.Sprint("n", i))
			for range per {
				_ = n.Broadcast(context.Background(), msg("t", "e"))
			}
		})
	}
	wg.Wait()
	for i, cnt := range counts {
		if got := cnt.n.Load(); got != nodes*per {
			t.Errorf("node %d got %d messages, want %d", i, got, nodes*per)
		}
	}
}

// Two nodes of one process: a broadcast on node-1 reaches node-2's
// subscriber; DirectBroadcast picks one node.
func ExampleCluster() {
	c := pubsub.NewCluster()
	n1, n2 := c.Node("node-1"), c.Node("node-2")

	sub := pubsub.SubscriberFunc(func(m *pubsub.Message) {
		fmt.Println("node-2 got", m.Event, string(m.Payload.Bytes()))
	})
	n2.Subscribe("room:lobby", &sub)

	ctx := context.Background()
	_ = n1.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))})
	_ = n1.DirectBroadcast(ctx, "node-2", &pubsub.Message{Topic: "room:lobby", Event: "direct", Payload: protocol.JSON([]byte(`{}`))})

	n2.Disconnect() // as if node-2 crashed
	_ = n1.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "lost", Payload: protocol.JSON([]byte(`{}`))})
	// Output:
	// node-2 got new_msg {"body":"hi"}
	// node-2 got direct {}
}
