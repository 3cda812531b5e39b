package pubsub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/internal/sendbatch"
)

// Topics spread over the shards, and a delivery in progress on one shard
// (holding its read lock) does not hold up subscriptions on another.
func TestSharding(t *testing.T) {
	t.Parallel()
	p, err := New(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	used := map[*shard]bool{}
	for i := range 1000 {
		used[p.shard(fmt.Sprint("room:", i))] = true
	}
	if len(used) < numShards*3/4 {
		t.Fatalf("1000 topics use %d of %d shards", len(used), numShards)
	}

	blocked := "room:0"
	var other string
	for i := 1; other == ""; i++ {
		if topic := fmt.Sprint("room:", i); p.shard(topic) != p.shard(blocked) {
			other = topic
		}
	}
	in, out := make(chan struct{}), make(chan struct{})
	if _, err := p.Subscribe(blocked, SubscriberFunc(func(*Message) {
		close(in)
		<-out
	})); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- p.LocalBroadcast(&Message{Topic: blocked}) }()
	<-in // The delivery holds blocked's shard.
	sub, err := p.Subscribe(other, SubscriberFunc(func(*Message) {}))
	if err != nil {
		t.Fatal(err)
	}
	sub.Unsubscribe()
	if n := p.Subscribers(blocked); n != 1 { // A read lock: shared.
		t.Errorf("Subscribers = %d", n)
	}
	close(out)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// batchSub is a subscriber of Pyre's own kind: it leaves a flusher in the
// fan-out's batch.
type batchSub struct{ f sendbatch.Flusher }

func (s batchSub) Deliver(*Message)                            { panic("batchSub: Deliver instead of DeliverBatch") }
func (s batchSub) DeliverBatch(_ *Message, b *sendbatch.Batch) { b.Add(s.f) }

type flushFunc func()

func (f flushFunc) Flush() { f() }

// The connections a fan-out leaves frames on are flushed after the
// topic's lock is released (a flush may take as long as a system call per
// connection, and Subscribe must not wait for it), also when another
// subscriber's Deliver panics.
func TestBatchFlushedAfterTheLock(t *testing.T) {
	t.Parallel()
	p, err := New(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	const topic = "room:batch"
	flushed := make(chan bool, 1)
	var subscribing sync.WaitGroup // Waited for once the broadcast is over.
	defer subscribing.Wait()
	flusher := flushFunc(func() {
		// Subscribe needs the shard's write lock: it waits if the flush
		// runs under the fan-out's read lock.
		done := make(chan struct{})
		subscribing.Go(func() {
			defer close(done)
			if sub, err := p.Subscribe(topic, SubscriberFunc(func(*Message) {})); err == nil {
				sub.Unsubscribe()
			}
		})
		select {
		case <-done:
			flushed <- true
		case <-time.After(2 * time.Second):
			flushed <- false
		}
	})
	sub, err := p.Subscribe(topic, batchSub{flusher})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := p.Broadcast(context.Background(), &Message{Topic: topic, Event: "e"}); err != nil {
		t.Fatal(err)
	}
	if !<-flushed {
		t.Fatal("the batch was flushed under the topic's lock")
	}

	bad, err := p.Subscribe(topic, SubscriberFunc(func(*Message) { panic("subscriber") }))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Unsubscribe()
	func() {
		defer func() { _ = recover() }()
		_ = p.Broadcast(context.Background(), &Message{Topic: topic, Event: "e"})
	}()
	select {
	case ok := <-flushed:
		if !ok {
			t.Fatal("after a panic, the batch was flushed under the topic's lock")
		}
	default:
		t.Fatal("a Deliver panicked and the batch was not flushed")
	}
}
