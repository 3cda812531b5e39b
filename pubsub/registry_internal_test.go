package pubsub

import (
	"context"
	"fmt"
	"testing"
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
