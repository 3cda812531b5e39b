package nats_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pyrehq/pyre/internal/netdelay"
	"github.com/pyrehq/pyre/pubsub"
)

// linkDelay is how late a node behind netdelay's proxy gets its protocol
// lines to NATS: a slow link, or a busy server.
const linkDelay = 30 * time.Millisecond

// waitReady waits for sub.Ready, at most waitFor.
func waitReady(t *testing.T, sub *pubsub.Subscription) {
	t.Helper()
	select {
	case <-sub.Ready():
	case <-time.After(waitFor):
		t.Fatalf("Ready of %q not closed within %v", sub.Topic(), waitFor)
	}
}

// The reproduction of the lost broadcasts: node b reaches NATS through a
// link that delays its protocol lines by 30 ms. Without waiting, a
// broadcast made on a right after b subscribes is lost (b's SUB reaches
// the server after a's PUB); once Ready is closed, every one arrives.
func TestReadyThroughSlowLink(t *testing.T) {
	t.Parallel()
	url, prefix := sharedURL(t), newPrefix()
	proxy := netdelay.Start(t, strings.TrimPrefix(url, "nats://"), linkDelay)
	a := startNode(t, url, prefix, "a", nil)
	b := startNode(t, "nats://"+proxy.Addr, prefix, "b", nil)

	const topics = 20
	boxes := make([]*inbox, topics)
	for i := range topics {
		topic := fmt.Sprint("room:d", i)
		boxes[i] = new(inbox)
		sub, err := b.Subscribe(topic, boxes[i])
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, sub)
		a.broadcast(t, topic, "right-after-ready")
	}
	// Control: on other topics, the same without waiting for Ready loses
	// broadcasts, which shows that the link reproduces the gap.
	controls := make([]*inbox, topics)
	for i := range topics {
		topic := fmt.Sprint("room:control", i)
		controls[i] = b.subscribe(t, topic)
		a.broadcast(t, topic, "right-after-subscribe")
	}
	eventually(t, waitFor, "every broadcast made right after Ready arrives", func() bool {
		for _, box := range boxes {
			if box.count("right-after-ready") != 1 {
				return false
			}
		}
		return true
	})
	lost := 0
	for i := range topics {
		// A barrier: what was not lost has arrived before it.
		reaches(t, a, fmt.Sprint("room:control", i), controls[i], "a's broadcasts reach b")
		if controls[i].count("right-after-subscribe") == 0 {
			lost++
		}
	}
	t.Logf("without waiting for Ready, %d of %d broadcasts were lost", lost, topics)
	if lost < topics/2 {
		t.Errorf("without waiting for Ready, only %d of %d broadcasts were lost: the delayed link does not reproduce the gap", lost, topics)
	}
}

// While NATS is unreachable, Watch gives nothing to wait for: a
// subscription is ready at once, and its watch takes effect on
// reconnection. A frozen server never confirms: Close releases the wait.
func TestReadyDuringOutage(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	prefix := newPrefix()
	a := startNode(t, srv.url(), prefix, "a", nil)
	b := startNode(t, srv.url(), prefix, "b", nil)

	srv.kill()
	eventually(t, waitFor, "b notices the outage", func() bool { return !b.a.Stats().Connected })
	sub, err := b.Subscribe("room:outage", new(inbox))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Ready():
	case <-time.After(100 * time.Millisecond):
		t.Fatal("a subscription made while NATS is down is not ready at once")
	}
	box := b.subscribe(t, "room:outage")
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	reaches(t, a, "room:outage", box, "a's broadcasts reach b after the outage")

	srv.pause()
	defer srv.resume()
	frozen, err := b.Subscribe("room:frozen", new(inbox))
	if err != nil {
		t.Fatal(err)
	}
	// nats.go's own close waits for the frozen socket: a short ctx.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Logf("Close with NATS frozen: %v", err)
	}
	select {
	case <-frozen.Ready():
	default:
		t.Error("Ready still open after Close")
	}
}
