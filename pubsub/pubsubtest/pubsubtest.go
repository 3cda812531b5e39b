// Package pubsubtest checks that a [pubsub.Adapter] behaves as a
// [pubsub.PubSub] needs: Redis, NATS and the in-memory [pubsub.Cluster]
// pass the same cases. Call [TestAdapter] from the adapter's tests:
//
//	func TestAdapter(t *testing.T) {
//		pubsubtest.TestAdapter(t, func(t *testing.T) pubsub.Adapter {
//			return myadapter.New(brokerAddr) // One more node on the same broker.
//		})
//	}
package pubsubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// TestAdapter runs the cases every Adapter must pass, one subtest each.
//
// newAdapter returns a new, not started Adapter for one more node of the
// same cluster (the same broker) each time it is called. The cases start
// PubSubs on them with distinct node names, and topics and node names
// unique to the run, so a broker may be shared with other tests; each case
// closes its PubSubs when it ends. Topics and events hold any UTF-8 text
// (dots, wildcards, spaces, NUL) and payloads reach 1 MiB: an adapter whose
// broker restricts names or sizes (NATS subjects, max_payload) encodes or
// splits them.
//
// Adapters deliver asynchronously: the cases wait for each expected
// message for at most 5 seconds, prove that a message did not arrive with
// a later message on the same path, and poll, within 5 seconds, for what
// happens eventually (a watch or an unwatch reaching the broker). Except
// in the "ready" case: once [pubsub.Subscription.Ready] is closed (the
// channel the adapter's Watch returned), the first broadcast from another
// node must arrive, without any probe. The cases run one after the other,
// and TestAdapter returns when they are done.
func TestAdapter(t *testing.T, newAdapter func(t *testing.T) pubsub.Adapter) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newEnv(t, newAdapter))
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"broadcast", testBroadcast},
	{"payload-not-kept", testPayloadNotKept},
	{"broadcast-from", testBroadcastFrom},
	{"local-broadcast", testLocalBroadcast},
	{"direct-broadcast", testDirectBroadcast},
	{"direct-broadcast-unknown-node", testDirectUnknown},
	{"unwatched-topic", testUnwatchedTopic},
	{"unsubscribe", testUnsubscribe},
	{"watch-churn", testWatchChurn},
	{"late-subscribe", testLateSubscribe},
	{"ready", testReady},
	{"order", testOrder},
	{"concurrent-broadcasters", testConcurrent},
	{"closed-node", testClosedNode},
	{"restart", testRestart},
}

// testBroadcast: a broadcast reaches every subscriber on every node once,
// intact, with Origin set to its node, whatever its payload and names.
func testBroadcast(t *testing.T, e *env) {
	big := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	// 1 MiB of JSON: a string of multi-byte characters, padded.
	text := strings.Repeat("é🔥x", (1<<20-8)/7)
	bigJSON := []byte(`{"s":"` + text + strings.Repeat("x", 1<<20-8-len(text)) + `"}`)
	payloads := []struct {
		name, topic, event string
		payload            protocol.Payload
	}{
		{"json", "room:1", "new_msg", protocol.JSON([]byte(`{"body":"hi","n":[1,2.5,null,true],"o":{}}`))},
		{"binary", "room:1", "blob", protocol.Binary([]byte{0, 1, 2, 0xfe, 0xff, '\n', '{'})},
		{"empty-json", "room:1", "empty", protocol.Payload{}},
		{"empty-binary", "room:1", "empty", protocol.Binary(nil)},
		{"1MiB-binary", "room:1", "big", protocol.Binary(big)},
		{"1MiB-json", "room:1", "big", protocol.JSON(bigJSON)},
		{"unicode", "salle:é/ルーム🔥", "nouveau_message_ü🔥", protocol.JSON([]byte(`{"body":"héllo ✓ 🔥"}`))},
		{"special-characters", "a.b *> ?[x]{y}\t\n\x00|#%/\\\"'", "e.v *>\x00", protocol.JSON([]byte(`{"k":"\u0000"}`))},
	}
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, e.newAdapter)
			topic := e.topic(p.topic)
			a, b, c := e.start("a"), e.start("b"), e.start("c")
			a1, _ := a.subscribe(t, topic)
			b1, _ := b.subscribe(t, topic)
			b2, _ := b.subscribe(t, topic)
			c1, _ := c.subscribe(t, topic)
			boxes := map[string]*inbox{"a": a1, "b (1st)": b1, "b (2nd)": b2, "c": c1}
			settle(t, a, topic, b1, b2, c1)

			m := &pubsub.Message{Topic: topic, Event: p.event, Payload: p.payload}
			a.broadcast(t, m)
			if m.Origin != a.Node() {
				t.Errorf("Broadcast set Origin to %q, want %q", m.Origin, a.Node())
			}
			for who, box := range boxes {
				box.waitEvent(t, who, p.event)
			}
			a.broadcast(t, msg(topic, "barrier"))
			for who, box := range boxes {
				box.waitEvent(t, who, "barrier")
			}
			for who, box := range boxes {
				got := box.with(p.event)
				if len(got) != 1 {
					t.Errorf("subscriber on %s got the message %d times, want once", who, len(got))
					continue
				}
				checkSame(t, who, got[0], m, a.Node())
			}
		})
	}
}

// checkSame checks that got is m as received on another node.
func checkSame(t *testing.T, who string, got, m *pubsub.Message, origin string) {
	t.Helper()
	if got.Topic != m.Topic || got.Event != m.Event {
		t.Errorf("%s got topic %q event %q, want %q %q", who, got.Topic, got.Event, m.Topic, m.Event)
	}
	if got.Payload.IsBinary() != m.Payload.IsBinary() {
		t.Errorf("%s got a payload with IsBinary %v, want %v", who, got.Payload.IsBinary(), m.Payload.IsBinary())
	}
	if g, w := got.Payload.Bytes(), m.Payload.Bytes(); !bytes.Equal(g, w) {
		t.Errorf("%s got a payload of %d bytes (%.40q), want %d bytes (%.40q)", who, len(g), g, len(w), w)
	}
	if got.Origin != origin {
		t.Errorf("%s got Origin %q, want %q", who, got.Origin, origin)
	}
}

// testPayloadNotKept: the adapter does not use the payload bytes after
// Broadcast returns (the caller may reuse them).
func testPayloadNotKept(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	box, _ := b.subscribe(t, topic)
	settle(t, a, topic, box)
	want := `{"body":"the original payload"}`
	buf := []byte(want)
	a.broadcast(t, &pubsub.Message{Topic: topic, Event: "e", Payload: protocol.JSON(buf)})
	for i := range buf {
		buf[i] = 'X'
	}
	a.broadcast(t, msg(topic, "barrier"))
	if got := box.waitEvent(t, "b", "e"); string(got.Payload.Bytes()) != want {
		t.Errorf("b got %q, want %q: the adapter read the payload after Broadcast returned", got.Payload.Bytes(), want)
	}
}

// testBroadcastFrom: From spares one subscription, on its own node only.
func testBroadcastFrom(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	sender, senderSub := a.subscribe(t, topic)
	other, _ := a.subscribe(t, topic)
	remote, _ := b.subscribe(t, topic)
	settle(t, a, topic, remote)

	m := msg(topic, "from")
	m.From = senderSub
	a.broadcast(t, m)
	got := other.waitEvent(t, "a's other subscriber", "from")
	if got.From != senderSub {
		t.Errorf("the other local subscriber got From %p, want the sender's subscription %p", got.From, senderSub)
	}
	got = remote.waitEvent(t, "b", "from")
	if got.From != nil {
		t.Errorf("b got From %p, want nil: From does not cross nodes", got.From)
	}
	a.broadcast(t, msg(topic, "barrier"))
	for who, box := range map[string]*inbox{"the sender": sender, "a's other subscriber": other, "b": remote} {
		box.waitEvent(t, who, "barrier")
	}
	if n := len(sender.with("from")); n != 0 {
		t.Errorf("the sender got its own broadcast_from %d times", n)
	}
	if n := len(other.with("from")); n != 1 {
		t.Errorf("a's other subscriber got the message %d times, want once", n)
	}
	if n := len(remote.with("from")); n != 1 {
		t.Errorf("b got the message %d times, want once", n)
	}
}

// testLocalBroadcast: LocalBroadcast stays on its node.
func testLocalBroadcast(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	local, _ := a.subscribe(t, topic)
	remote, _ := b.subscribe(t, topic)
	settle(t, a, topic, remote)

	if err := a.LocalBroadcast(msg(topic, "local")); err != nil {
		t.Fatalf("LocalBroadcast: %v", err)
	}
	if n := len(local.with("local")); n != 1 {
		t.Errorf("a got its LocalBroadcast %d times when it returned, want once", n)
	}
	a.broadcast(t, msg(topic, "barrier"))
	remote.waitEvent(t, "b", "barrier")
	if b.gotFromAdapter(topic, "local") {
		t.Error("a LocalBroadcast of a reached b")
	}
}

// testDirectBroadcast: DirectBroadcast reaches the named node only,
// whatever it subscribes; to this node's own name it delivers locally.
func testDirectBroadcast(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b, c, d := e.start("a"), e.start("b"), e.start("c"), e.start("d")
	ia, _ := a.subscribe(t, topic)
	ib, _ := b.subscribe(t, topic)
	ic, _ := c.subscribe(t, topic)

	m := msg(topic, "to-b")
	a.direct(t, b, m)
	if m.Origin != a.Node() {
		t.Errorf("DirectBroadcast set Origin to %q, want %q", m.Origin, a.Node())
	}
	checkSame(t, "b", ib.waitEvent(t, "b", "to-b"), m, a.Node())

	// d subscribes nothing: the message still reaches its adapter.
	a.direct(t, d, msg(topic, "to-d"))
	d.spy.got.waitEvent(t, "d's adapter", "to-d")

	// To its own name: local delivery, at once.
	a.direct(t, a, msg(topic, "to-a"))
	if n := len(ia.with("to-a")); n != 1 {
		t.Errorf("a got its DirectBroadcast to itself %d times when it returned, want once", n)
	}

	a.direct(t, c, msg(topic, "barrier"))
	a.direct(t, b, msg(topic, "barrier"))
	ic.waitEvent(t, "c", "barrier")
	ib.waitEvent(t, "b", "barrier")
	if c.gotFromAdapter(topic, "to-b") || c.gotFromAdapter(topic, "to-d") {
		t.Error("c got a direct broadcast to another node")
	}
	if n := len(ib.with("to-b")); n != 1 {
		t.Errorf("b got its direct broadcast %d times, want once", n)
	}
	if b.gotFromAdapter(topic, "to-a") || b.gotFromAdapter(topic, "to-d") {
		t.Error("b got a direct broadcast to another node")
	}
	if len(ia.with("to-b")) != 0 || len(ia.with("to-d")) != 0 {
		t.Error("the sender got its direct broadcast to another node")
	}
}

// testDirectUnknown: DirectBroadcast to a node that never existed returns
// nil or ErrUnknownNode, and delivers nothing.
func testDirectUnknown(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	ia, _ := a.subscribe(t, topic)
	ib, _ := b.subscribe(t, topic)
	settle(t, a, topic, ib)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := a.DirectBroadcast(ctx, e.nodeName("nowhere"), msg(topic, "lost"))
	if err != nil && !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Errorf("DirectBroadcast to a node that never existed: %v, want nil or ErrUnknownNode", err)
	}
	a.broadcast(t, msg(topic, "barrier"))
	ib.waitEvent(t, "b", "barrier")
	if len(ia.with("lost"))+len(ib.with("lost")) != 0 {
		t.Error("a direct broadcast to a node that never existed was delivered")
	}
}

// testUnwatchedTopic: a node gets nothing from its adapter for the topics
// it has no subscriber of, whatever they look like (wildcards included).
func testUnwatchedTopic(t *testing.T, e *env) {
	star, gt, plain := e.topic("x.*"), e.topic("x.>"), e.topic("x.y")
	a, b := e.start("a"), e.start("b")
	bStar, _ := b.subscribe(t, star)
	bGT, _ := b.subscribe(t, gt)
	settle(t, a, star, bStar)
	settle(t, a, gt, bGT)

	a.broadcast(t, msg(plain, "unwatched"))
	a.broadcast(t, msg(e.topic("other"), "unwatched"))
	a.broadcast(t, msg(star, "barrier"))
	a.broadcast(t, msg(gt, "barrier"))
	a.direct(t, b, msg(plain, "direct-barrier"))
	bStar.waitEvent(t, "b's subscriber of "+star, "barrier")
	bGT.waitEvent(t, "b's subscriber of "+gt, "barrier")
	b.spy.got.waitEvent(t, "b's adapter", "direct-barrier")
	for _, m := range b.spy.got.all() {
		if m.Event == "unwatched" {
			t.Errorf("b's adapter handed over a broadcast on %q, a topic b does not watch", m.Topic)
		}
	}
	if n := len(bStar.with("unwatched")) + len(bGT.with("unwatched")); n != 0 {
		t.Errorf("b's subscribers of %q and %q got %d messages of other topics", star, gt, n)
	}
}

// testUnsubscribe: after its last Unsubscribe of a topic, a node stops
// getting the topic's broadcasts from its adapter; the subscriptions that
// ended get nothing more at once.
func testUnsubscribe(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	first, firstSub := b.subscribe(t, topic)
	second, secondSub := b.subscribe(t, topic)
	settle(t, a, topic, first, second)

	firstSub.Unsubscribe()
	a.broadcast(t, msg(topic, "one-left"))
	second.waitEvent(t, "b's remaining subscriber", "one-left")
	if n := len(first.with("one-left")); n != 0 {
		t.Errorf("an ended subscription got a broadcast %d times", n)
	}

	secondSub.Unsubscribe()
	secondSub.Unsubscribe() // Idempotent.
	firstSub.Unsubscribe()
	if n := b.Subscribers(topic); n != 0 {
		t.Fatalf("Subscribers = %d after the last Unsubscribe", n)
	}
	stopped(t, a, b, topic)
	for _, box := range []*inbox{first, second} {
		for _, m := range box.all() {
			if strings.HasPrefix(m.Event, "stop-probe") {
				t.Fatalf("an ended subscription got %q", m.Event)
			}
		}
	}

	third, _ := b.subscribe(t, topic)
	settle(t, a, topic, third)
}

// stopped waits until the broadcasts of from on topic no longer reach to's
// adapter: it polls with a probe followed by a direct barrier until the
// barrier arrives without the probe.
func stopped(t *testing.T, from, to *node, topic string) {
	t.Helper()
	poll(t, fmt.Sprintf("%s stops getting broadcasts on %q from its adapter", to.Node(), topic), func(k int) bool {
		probe, barrier := fmt.Sprint("stop-probe-", k), fmt.Sprint("stop-barrier-", k)
		from.broadcast(t, msg(topic, probe))
		from.direct(t, to, msg(topic, barrier))
		to.spy.got.waitEvent(t, to.Node()+"'s adapter", barrier)
		return !to.gotFromAdapter(topic, probe)
	})
}

// testWatchChurn: Watch and Unwatch calls in quick succession are applied
// in order: the node ends up watching the topics it ends up subscribed to.
func testWatchChurn(t *testing.T, e *env) {
	on, off := e.topic("on"), e.topic("off")
	a, b := e.start("a"), e.start("b")
	for range 50 {
		for _, topic := range []string{on, off} {
			_, sub := b.subscribe(t, topic)
			sub.Unsubscribe()
		}
	}
	box, _ := b.subscribe(t, on)
	settle(t, a, on, box)
	stopped(t, a, b, off)
}

// testLateSubscribe: a node that subscribes while another broadcasts
// starts getting the broadcasts within the bound, and keeps getting them.
func testLateSubscribe(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	a.broadcast(t, msg(topic, "before"))
	box, _ := b.subscribe(t, topic)
	settle(t, a, topic, box)
	a.broadcast(t, msg(topic, "after"))
	box.waitEvent(t, "b", "after")
}

// testReady: once Subscription.Ready is closed, the broadcasts made on
// another node reach the subscription: the first broadcast made right
// after it arrives, on each of many new topics (a subscription made
// before the watch took effect shares its Ready). No probes: the first
// message must get through.
func testReady(t *testing.T, e *env) {
	const topics = 50
	a, b := e.start("a"), e.start("b")
	for i := range topics {
		topic := e.topic(fmt.Sprint("ready-", i))
		first, sub := b.subscribe(t, topic)
		second, _ := b.subscribe(t, topic)
		waitReady(t, sub)
		a.broadcast(t, msg(topic, "right-after-ready"))
		first.waitEvent(t, fmt.Sprintf("b's subscriber of topic %d", i), "right-after-ready")
		second.waitEvent(t, fmt.Sprintf("b's second subscriber of topic %d", i), "right-after-ready")
	}
	// A topic b watches already: Ready at once, nothing to wait for.
	topic := e.topic("ready-0")
	_, sub := b.subscribe(t, topic)
	select {
	case <-sub.Ready():
	default:
		t.Error("a new subscription to a topic whose watch took effect: Ready not closed at once")
	}
}

// waitReady waits for sub.Ready, at most timeout.
func waitReady(t *testing.T, sub *pubsub.Subscription) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-sub.Ready():
	case <-timer.C:
		t.Fatalf("Ready of %q not closed within %v", sub.Topic(), timeout)
	}
}

// testOrder: the broadcasts of one publisher on a topic reach each
// subscriber in order, with two publishers at once.
func testOrder(t *testing.T, e *env) {
	const n = 200
	topic := e.topic("room")
	pubs := []*node{e.start("a"), e.start("b")}
	c := e.start("c")
	var boxes []*inbox
	for _, nd := range append(pubs, c) {
		box, _ := nd.subscribe(t, topic)
		boxes = append(boxes, box)
	}
	for _, p := range pubs {
		settle(t, p, topic, boxes...)
	}
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Go(func() {
			for i := range n {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				err := p.Broadcast(ctx, msg(topic, strconv.Itoa(i)))
				cancel()
				if err != nil {
					t.Errorf("node %s: Broadcast %d: %v", p.Node(), i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, box := range boxes {
		box.waitCount(t, fmt.Sprint("subscriber ", i), len(pubs)*n)
	}
	for _, p := range pubs {
		p.broadcast(t, msg(topic, "barrier"))
	}
	for i, box := range boxes {
		box.waitFor(t, fmt.Sprint("subscriber ", i, " waits for the barriers"), func(msgs []*pubsub.Message) bool {
			c := 0
			for _, m := range msgs {
				if m.Event == "barrier" {
					c++
				}
			}
			return c == len(pubs)
		})
		next := map[string]int{}
		for _, m := range box.got() {
			if m.Event == "barrier" {
				continue
			}
			if got, want := m.Event, strconv.Itoa(next[m.Origin]); got != want {
				t.Fatalf("subscriber %d got message %s from %s, want %s", i, got, m.Origin, want)
			}
			next[m.Origin]++
		}
		for _, p := range pubs {
			if next[p.Node()] != n {
				t.Errorf("subscriber %d got %d messages from %s, want %d", i, next[p.Node()], p.Node(), n)
			}
		}
	}
}

// testConcurrent: broadcasts from several goroutines on several nodes,
// while other topics are subscribed and unsubscribed, lose nothing and
// duplicate nothing.
func testConcurrent(t *testing.T, e *env) {
	const goroutines, each = 4, 50
	topic, churn := e.topic("room"), e.topic("churn")
	nodes := []*node{e.start("a"), e.start("b"), e.start("c")}
	var boxes []*inbox
	for _, nd := range nodes {
		box, _ := nd.subscribe(t, topic)
		boxes = append(boxes, box)
	}
	for _, nd := range nodes {
		settle(t, nd, topic, boxes...)
	}
	var wg sync.WaitGroup
	for _, nd := range nodes {
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					err := nd.Broadcast(ctx, msg(topic, fmt.Sprintf("%s/%d/%d", nd.Node(), g, i)))
					cancel()
					if err != nil {
						t.Errorf("node %s: Broadcast: %v", nd.Node(), err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range each {
				sub, err := nd.Subscribe(churn, newInbox())
				if err != nil {
					t.Errorf("node %s: Subscribe: %v", nd.Node(), err)
					return
				}
				sub.Unsubscribe()
			}
		})
	}
	wg.Wait()
	total := len(nodes) * goroutines * each
	for i, box := range boxes {
		box.waitCount(t, fmt.Sprint("subscriber on ", nodes[i].Node()), total)
	}
	for _, nd := range nodes {
		nd.broadcast(t, msg(topic, "barrier"))
	}
	for i, box := range boxes {
		box.waitFor(t, fmt.Sprint("subscriber on ", nodes[i].Node(), " waits for the barriers"), func(msgs []*pubsub.Message) bool {
			c := 0
			for _, m := range msgs {
				if m.Event == "barrier" {
					c++
				}
			}
			return c == len(nodes)
		})
		seen := map[string]bool{}
		for _, m := range box.got() {
			if m.Event == "barrier" {
				continue
			}
			if seen[m.Event] {
				t.Errorf("subscriber on %s got %s twice", nodes[i].Node(), m.Event)
			}
			seen[m.Event] = true
		}
		if len(seen) != total {
			t.Errorf("subscriber on %s got %d distinct messages, want %d", nodes[i].Node(), len(seen), total)
		}
	}
}

// testClosedNode: a closed node refuses every call with ErrClosed and gets
// nothing more; the other nodes go on.
func testClosedNode(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b, c := e.start("a"), e.start("b"), e.start("c")
	ib, _ := b.subscribe(t, topic)
	ic, _ := c.subscribe(t, topic)
	settle(t, a, topic, ib, ic)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	before := len(c.spy.got.all())
	if _, err := c.Subscribe(topic, newInbox()); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if err := c.Broadcast(ctx, msg(topic, "x")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Broadcast after Close: %v, want ErrClosed", err)
	}
	if err := c.LocalBroadcast(msg(topic, "x")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("LocalBroadcast after Close: %v, want ErrClosed", err)
	}
	if err := c.DirectBroadcast(ctx, a.Node(), msg(topic, "x")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("DirectBroadcast after Close: %v, want ErrClosed", err)
	}

	a.broadcast(t, msg(topic, "after-close"))
	if err := a.DirectBroadcast(ctx, c.Node(), msg(topic, "direct-after-close")); err != nil && !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Errorf("DirectBroadcast to a closed node: %v, want nil or ErrUnknownNode", err)
	}
	a.direct(t, b, msg(topic, "direct"))
	a.broadcast(t, msg(topic, "barrier"))
	ib.waitEvent(t, "b", "after-close")
	ib.waitEvent(t, "b", "direct")
	ib.waitEvent(t, "b", "barrier")
	if len(ic.got()) != 0 {
		t.Errorf("the closed node's subscriber got %d messages", len(ic.got()))
	}
	if n := len(c.spy.got.all()); n != before {
		t.Errorf("the closed node's adapter handed over %d messages after Close", n-before)
	}
}

// testRestart: a node closed and started again under the same name, as a
// restarted server, gets broadcasts and direct broadcasts again.
func testRestart(t *testing.T, e *env) {
	topic := e.topic("room")
	a, b := e.start("a"), e.start("b")
	old, _ := b.subscribe(t, topic)
	settle(t, a, topic, old)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b2 := e.start("b")
	box, _ := b2.subscribe(t, topic)
	settle(t, a, topic, box)
	a.direct(t, b2, msg(topic, "direct"))
	box.waitEvent(t, "the restarted b", "direct")
	a.broadcast(t, msg(topic, "barrier"))
	box.waitEvent(t, "the restarted b", "barrier")
	if n := len(old.with("barrier")); n != 0 {
		t.Errorf("a subscriber of the closed node got a broadcast")
	}
}
