package chanrt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanrt"
	"github.com/pyrehq/pyre/internal/slowwatch"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// clusterNode starts a PubSub named name on adapter a, closed when the
// test ends.
func clusterNode(t *testing.T, name string, a pubsub.Adapter) *pubsub.PubSub {
	t.Helper()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: name, Adapter: a, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close(context.Background()) })
	return ps
}

// lateCluster is node a, whose watches take effect at once, and node b,
// whose watches take effect as mode says, on one cluster.
func lateCluster(t *testing.T, mode slowwatch.Mode, delay time.Duration) (a, b *pubsub.PubSub, late *slowwatch.Adapter) {
	c := pubsub.NewCluster()
	late = slowwatch.New(c, mode, delay)
	return clusterNode(t, "a", c.Adapter()), clusterNode(t, "b", late), late
}

// waitFor polls cond every millisecond until it holds, failing the test
// after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// wait waits for done, failing the test after 5 s.
func wait(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not within 5 s", what)
	}
}

func bcast(topic, event, payload string) *pubsub.Message {
	return &pubsub.Message{Topic: topic, Event: event, Payload: protocol.JSON([]byte(payload))}
}

// fast is a fast-lane broadcast frame of room:1.
func fast(event, payload string) wstest.Msg {
	return wstest.M(null, null, "room:1", event, payload)
}

// The join reply waits for the topic's watch to take effect. The
// broadcasts made on the node meanwhile reach the client after the reply,
// in order (fast-lane frames held, an intercepted event in the mailbox),
// and a broadcast from another node made once the reply is out arrives.
func TestActivateWaitsForReady(t *testing.T) {
	t.Parallel()
	a, b, late := lateCluster(t, slowwatch.Manual, 0)
	h := newHandler()
	h.intercept = []string{"hooked"}
	hs := newHarness(t, h, &harnessOpts{ps: b})
	hs.onReply = func() {
		if !late.Confirmed("room:1") {
			t.Error("join reply queued before the topic's watch took effect")
		}
	}
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		hs.join(t, "")
	}()
	waitFor(t, "the channel subscribes", func() bool { return b.Subscribers("room:1") == 1 })
	for i := range 10 {
		if i == 5 {
			_ = b.LocalBroadcast(bcast("room:1", "hooked", `{"n":1}`))
		}
		_ = b.LocalBroadcast(bcast("room:1", "early", fmt.Sprintf(`{"i":%d}`, i)))
	}
	select {
	case e := <-hs.conn.events:
		t.Fatalf("the connection got frame %s (ChannelClosed %v, SlowConsumer %v) before the topic's watch took effect", e.frame.Data, e.closed, e.slow)
	default:
	}

	late.Release("room:1")
	wait(t, "Activate returns", joined)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	for i := range 10 {
		hs.conn.expect(t, fast("early", fmt.Sprintf(`{"i":%d}`, i)))
	}
	hs.conn.expect(t, push("hooked", `{"n":1}`))
	if err := a.Broadcast(context.Background(), bcast("room:1", "remote", `{}`)); err != nil {
		t.Fatal(err)
	}
	hs.conn.expect(t, fast("remote", `{}`))
}

// A broadcast from another node made as soon as the join reply is out
// reaches the client, however late the watches take effect (50 ms here).
func TestActivateRemoteBroadcastAfterReply(t *testing.T) {
	t.Parallel()
	for round := range 10 {
		a, b, _ := lateCluster(t, slowwatch.Delayed, 50*time.Millisecond)
		hs := newHarness(t, newHandler(), &harnessOpts{ps: b})
		joined := make(chan struct{})
		go func() {
			defer close(joined)
			hs.join(t, "")
		}()
		hs.conn.expect(t, reply("1", "ok", `{}`))
		if err := a.Broadcast(context.Background(), bcast("room:1", "remote", fmt.Sprintf(`{"round":%d}`, round))); err != nil {
			t.Fatal(err)
		}
		hs.conn.expect(t, fast("remote", fmt.Sprintf(`{"round":%d}`, round)))
		wait(t, "Activate returns", joined)
	}
}

// A watch that is never confirmed delays the join reply by ReadyTimeout,
// not for ever; the broadcasts held meanwhile follow the reply.
func TestActivateReadyTimeout(t *testing.T) {
	t.Parallel()
	a, b, _ := lateCluster(t, slowwatch.Never, 0)
	hs := newHarness(t, newHandler(), &harnessOpts{ps: b})
	joined := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(joined)
		hs.join(t, "")
	}()
	waitFor(t, "the channel subscribes", func() bool { return b.Subscribers("room:1") == 1 })
	_ = b.LocalBroadcast(bcast("room:1", "early", `{}`))
	hs.conn.expect(t, reply("1", "ok", `{}`))
	if d := time.Since(start); d < chanrt.ReadyTimeout-100*time.Millisecond || d > chanrt.ReadyTimeout+2*time.Second {
		t.Errorf("join reply after %v, want about ReadyTimeout (%v)", d, chanrt.ReadyTimeout)
	}
	hs.conn.expect(t, fast("early", `{}`))
	wait(t, "Activate returns", joined)
	if err := a.Broadcast(context.Background(), bcast("room:1", "remote", `{}`)); err != nil {
		t.Fatal(err)
	}
	hs.conn.expect(t, fast("remote", `{}`))
}

// Stop (the connection ends) ends Activate's wait at once.
func TestActivateStoppedWhileWaiting(t *testing.T) {
	t.Parallel()
	_, b, _ := lateCluster(t, slowwatch.Never, 0)
	hs := newHarness(t, newHandler(), &harnessOpts{ps: b})
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		hs.join(t, "")
	}()
	waitFor(t, "the channel subscribes", func() bool { return b.Subscribers("room:1") == 1 })
	start := time.Now()
	hs.ch.Stop(channel.ErrClosed)
	wait(t, "Activate returns", joined)
	if d := time.Since(start); d > chanrt.ReadyTimeout/2 {
		t.Errorf("Activate returned %v after Stop", d)
	}
	if r := hs.exited(t); r != channel.ErrClosed {
		t.Errorf("exit reason %v, want ErrClosed", r)
	}
	waitFor(t, "the channel unsubscribes", func() bool { return b.Subscribers("room:1") == 0 })
}

// Broadcasts held past HoldBytes cut the connection as a slow consumer;
// none of them is sent.
func TestActivateHoldOverflow(t *testing.T) {
	t.Parallel()
	_, b, late := lateCluster(t, slowwatch.Manual, 0)
	hs := newHarness(t, newHandler(), &harnessOpts{ps: b, holdBytes: 100})
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		hs.join(t, "")
	}()
	waitFor(t, "the channel subscribes", func() bool { return b.Subscribers("room:1") == 1 })
	// About 40 bytes each: the third passes 100.
	for i := range 5 {
		_ = b.LocalBroadcast(bcast("room:1", "early", fmt.Sprintf(`{"i":%d}`, i)))
	}
	if e := hs.conn.next(t); !e.slow {
		t.Fatalf("got frame %s (ChannelClosed %v), want SlowConsumer", e.frame.Data, e.closed)
	}
	late.Release("room:1")
	wait(t, "Activate returns", joined)
	_ = b.LocalBroadcast(bcast("room:1", "late", `{}`))
	hs.ch.Stop(channel.ErrClosed)
	hs.exited(t)
	hs.conn.expectNothing(t) // Send refuses everything once the connection is cut.
}

// A broadcaster that keeps broadcasting while the channel joins: the
// client gets the reply first, then every broadcast made since the
// subscription, once and in order, across the flush of the held frames.
func TestActivateOrderUnderFlood(t *testing.T) {
	t.Parallel()
	_, b, late := lateCluster(t, slowwatch.Manual, 0)
	hs := newHarness(t, newHandler(), &harnessOpts{ps: b})
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		hs.join(t, "")
	}()
	waitFor(t, "the channel subscribes", func() bool { return b.Subscribers("room:1") == 1 })
	const n = 3000
	var sent atomic.Int64
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := range n {
			_ = b.LocalBroadcast(bcast("room:1", "flood", fmt.Sprintf(`{"i":%d}`, i)))
			sent.Store(int64(i + 1))
		}
	}()
	waitFor(t, "a third of the flood", func() bool { return sent.Load() > n/3 })
	late.Release("room:1")
	wait(t, "Activate returns", joined)
	wait(t, "the flood ends", flooded)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	for i := range n {
		e := hs.conn.next(t)
		var got []json.RawMessage
		if err := json.Unmarshal(e.frame.Data, &got); err != nil || len(got) != 5 {
			t.Fatalf("frame %d: %s", i, e.frame.Data)
		}
		if want := fmt.Sprintf(`{"i":%d}`, i); string(got[4]) != want {
			t.Fatalf("frame %d after the reply is %s, want %s", i, got[4], want)
		}
	}
}
