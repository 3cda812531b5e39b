package pubsub

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"

	"github.com/google/uuid"
)

// ErrUnknownNode is returned by DirectBroadcast for a node this PubSub cannot reach.
var ErrUnknownNode = errors.New("pubsub: unknown node")

const numShards = 64

// Local is the in-process PubSub: one node, no network. Topics are spread
// over shards so that broadcasts and subscriptions on different topics do not
// contend. Its zero value is not usable; create it with [NewLocal].
//
// A broadcast delivers in the caller's goroutine: Deliver is called for each
// subscriber while the shard's read lock is held, which is why Deliver must
// neither block nor subscribe.
type Local struct {
	node   string
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu     sync.RWMutex // Protects topics.
	topics map[string]*subscribers
}

// subscribers is the set of subscribers of one topic: a slice for fast
// iteration and an index for O(1) removal.
type subscribers struct {
	list []Subscriber
	idx  map[Subscriber]int
}

var _ PubSub = (*Local)(nil)

// NewLocal returns an in-process PubSub. node names it; "" picks a random name.
func NewLocal(node string) *Local {
	if node == "" {
		node = "pyre-" + uuid.NewString()
	}
	l := &Local{node: node, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].topics = make(map[string]*subscribers)
	}
	return l
}

func (l *Local) shard(topic string) *shard {
	return &l.shards[maphash.String(l.seed, topic)%numShards]
}

// Node returns this node's name.
func (l *Local) Node() string { return l.node }

// Subscribe adds s to topic.
func (l *Local) Subscribe(topic string, s Subscriber) {
	sh := l.shard(topic)
	sh.mu.Lock()
	subs := sh.topics[topic]
	if subs == nil {
		subs = &subscribers{idx: make(map[Subscriber]int)}
		sh.topics[topic] = subs
	}
	if _, ok := subs.idx[s]; !ok {
		subs.idx[s] = len(subs.list)
		subs.list = append(subs.list, s)
	}
	sh.mu.Unlock()
}

// Unsubscribe removes s from topic.
func (l *Local) Unsubscribe(topic string, s Subscriber) {
	sh := l.shard(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	subs := sh.topics[topic]
	if subs == nil {
		return
	}
	i, ok := subs.idx[s]
	if !ok {
		return
	}
	last := len(subs.list) - 1
	if i != last {
		moved := subs.list[last]
		subs.list[i] = moved
		subs.idx[moved] = i
	}
	subs.list[last] = nil
	subs.list = subs.list[:last]
	delete(subs.idx, s)
	if len(subs.list) == 0 {
		delete(sh.topics, topic)
	}
}

// Subscribers returns how many subscribers topic has on this node.
func (l *Local) Subscribers(topic string) int {
	sh := l.shard(topic)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if subs := sh.topics[topic]; subs != nil {
		return len(subs.list)
	}
	return 0
}

// Broadcast delivers m to every subscriber of m.Topic. Local has one node,
// so it is LocalBroadcast.
func (l *Local) Broadcast(_ context.Context, m *Message) error {
	l.LocalBroadcast(m)
	return nil
}

// LocalBroadcast delivers m to the subscribers of m.Topic, except m.From.
func (l *Local) LocalBroadcast(m *Message) {
	sh := l.shard(m.Topic)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if subs := sh.topics[m.Topic]; subs != nil {
		for _, s := range subs.list {
			if s != m.From {
				s.Deliver(m)
			}
		}
	}
}

// DirectBroadcast delivers m on this node when node is this node's name.
func (l *Local) DirectBroadcast(_ context.Context, node string, m *Message) error {
	if node != l.node {
		return ErrUnknownNode
	}
	l.LocalBroadcast(m)
	return nil
}
