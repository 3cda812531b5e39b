package pubsub

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/pyrehq/pyre/internal/sendbatch"
)

// Options configure a [PubSub]. The zero value, like a nil *Options, is a
// single node with a random name.
type Options struct {
	// Node is this node's name, unique in the cluster: other nodes address
	// it by this name in DirectBroadcast. If empty, it is "pyre-" followed
	// by a random UUID.
	Node string

	// Adapter carries messages to and from the other nodes of the cluster.
	// An adapter serves one PubSub: give each node its own. If nil, this
	// node is alone: broadcasts stay on it.
	Adapter Adapter

	// Logger receives the PubSub's lifecycle messages. If nil,
	// slog.Default() is used.
	Logger *slog.Logger
}

// numShards is the number of parts the topic registry is split into, so
// that broadcasts and subscriptions on different topics rarely contend.
const numShards = 64

// PubSub delivers broadcasts to the subscribers of a topic on this node
// and, through its [Adapter], on the other nodes of a cluster. Create it
// with [New]; close it with [PubSub.Close].
//
// A PubSub owns the local fan-out: a registry of subscriptions by topic,
// split in shards, each guarded by a read-write lock. A broadcast delivers
// to the local subscribers in the caller's goroutine, under the read lock
// of its topic's shard, and then hands the message to the adapter, which
// carries it to the other nodes, where it is delivered the same way.
//
// All methods are safe for concurrent use, but none may be called from
// inside [Subscriber.Deliver].
type PubSub struct {
	node    string
	adapter Adapter // nil: a single node.
	log     *slog.Logger
	seed    maphash.Seed
	closed  atomic.Bool
	shards  [numShards]shard
}

// shard is one part of the topic registry.
type shard struct {
	mu     sync.RWMutex       // Protects the following and the idx of the subscriptions.
	topics map[string][]entry // Never holds an empty list.

	// ready holds, for topics of topics, the channel [Adapter.Watch]
	// returned while it may not be closed yet: the watch of the topic may
	// not have taken effect. An entry goes with the topic's last
	// subscriber, or when a Subscribe finds its channel closed; a topic
	// without one is ready. Allocated on first use.
	ready map[string]<-chan struct{}
}

// closedReady is the Ready channel of the subscriptions whose topic's
// watch has taken effect: one closed channel for all, so that
// [Subscription.Ready] allocates nothing.
var closedReady = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// isClosed reports whether c is closed. c is never sent to.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// entry is one subscription in its topic's list. The subscriber is kept
// here rather than in the Subscription, so that a broadcast reads the
// list only.
type entry struct {
	sub   Subscriber
	batch batchSubscriber // sub, if it is one; else nil.
	s     *Subscription
}

// batchSubscriber is a Subscriber of Pyre's own (a channel) that can
// leave its frame queued on the connection and have it written after
// the fan-out: see package sendbatch.
type batchSubscriber interface {
	DeliverBatch(m *Message, b *sendbatch.Batch)
}

// New returns a PubSub configured by opts, which it copies; nil is the
// zero Options. With an adapter, New starts it ([Adapter.Start]) as the
// node named opts.Node, within ctx (connecting to a broker may take a
// while), and returns its error. ctx bounds the start only.
func New(ctx context.Context, opts *Options) (*PubSub, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Node == "" {
		o.Node = "pyre-" + uuid.NewString()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &PubSub{
		node:    o.Node,
		adapter: o.Adapter,
		log:     o.Logger.With("component", "pubsub", "node", o.Node),
		seed:    maphash.MakeSeed(),
	}
	for i := range p.shards {
		p.shards[i].topics = make(map[string][]entry)
	}
	if p.adapter != nil {
		if err := p.adapter.Start(ctx, p.node, p.receive); err != nil {
			return nil, fmt.Errorf("failed to start the pubsub adapter of node %q: %w", p.node, err)
		}
	}
	p.log.Debug("pubsub started", "adapter", p.adapter != nil)
	return p, nil
}

func (p *PubSub) shard(topic string) *shard {
	return &p.shards[maphash.String(p.seed, topic)%numShards]
}

// Node returns this node's name.
func (p *PubSub) Node() string { return p.node }

// Subscribe starts delivering the messages of topic to s, until the
// returned Subscription is ended with [Subscription.Unsubscribe]. The
// first subscription of a topic on this node makes the adapter watch it
// ([Adapter.Watch]); broadcasts from other nodes arrive once the watch
// has reached the broker, which [Subscription.Ready] tells. Local
// broadcasts arrive at once.
//
// Each call is a subscription of its own: subscribing the same s twice
// delivers each message to it twice, as in Phoenix, and each Subscription
// is ended separately. Subscribe panics if s is nil and returns
// [ErrClosed] after Close.
func (p *PubSub) Subscribe(topic string, s Subscriber) (*Subscription, error) {
	if s == nil {
		panic("pubsub: nil Subscriber")
	}
	sh := p.shard(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if p.closed.Load() {
		return nil, ErrClosed
	}
	list := sh.topics[topic]
	sub := &Subscription{ps: p, topic: topic, idx: len(list)}
	bs, _ := s.(batchSubscriber)
	sh.topics[topic] = append(list, entry{s, bs, sub})
	switch {
	case p.adapter == nil:
	case len(list) == 0:
		// Under the write lock, so that the adapter sees the Watch and
		// Unwatch calls of a topic in order.
		if ready := p.adapter.Watch(topic); ready != nil {
			if sh.ready == nil {
				sh.ready = make(map[string]<-chan struct{})
			}
			sh.ready[topic] = ready
		}
	default:
		// A later subscriber shares the watch of the first: forget its
		// channel once closed, so that a topic watched for long keeps
		// none.
		if ready, ok := sh.ready[topic]; ok && isClosed(ready) {
			delete(sh.ready, topic)
		}
	}
	return sub, nil
}

// unsubscribe ends s; see [Subscription.Unsubscribe].
func (p *PubSub) unsubscribe(s *Subscription) {
	sh := p.shard(s.topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.idx < 0 {
		return
	}
	// Swap-remove: the last subscription takes s's place.
	list := sh.topics[s.topic]
	last := len(list) - 1
	if s.idx != last {
		moved := list[last]
		list[s.idx], moved.s.idx = moved, s.idx
	}
	list[last] = entry{}
	list = list[:last]
	s.idx = -1
	switch {
	case last == 0:
		delete(sh.topics, s.topic)
		delete(sh.ready, s.topic)
		// After Close the adapter is gone: nothing to unwatch.
		if p.adapter != nil && !p.closed.Load() {
			p.adapter.Unwatch(s.topic)
		}
	case cap(list) > 64 && last < cap(list)/4:
		// Give back the memory of a topic that had many subscribers.
		sh.topics[s.topic] = append([]entry(nil), list...)
	default:
		sh.topics[s.topic] = list
	}
}

// Subscribers returns the number of subscriptions to topic on this node.
func (p *PubSub) Subscribers(topic string) int {
	sh := p.shard(topic)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.topics[topic])
}

// Broadcast delivers m to every subscriber of m.Topic on every node: first
// to the subscribers on this node, except m.From, in the caller's
// goroutine; then, through the adapter, to the other nodes. It returns
// the adapter's error; local delivery has happened anyway. It sets
// m.Origin to this node's name if empty, and returns [ErrClosed] after
// Close.
func (p *PubSub) Broadcast(ctx context.Context, m *Message) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if m.Origin == "" {
		m.Origin = p.node
	}
	p.deliver(m, m.From)
	if p.adapter == nil {
		return nil
	}
	if err := p.adapter.Broadcast(ctx, m); err != nil {
		return fmt.Errorf("failed to broadcast %q to the other nodes: %w", m.Topic, err)
	}
	return nil
}

// LocalBroadcast delivers m to the subscribers of m.Topic on this node
// only, except m.From, in the caller's goroutine. It sets m.Origin to
// this node's name if empty, and returns [ErrClosed] after Close.
func (p *PubSub) LocalBroadcast(m *Message) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if m.Origin == "" {
		m.Origin = p.node
	}
	p.deliver(m, m.From)
	return nil
}

// DirectBroadcast delivers m to the subscribers of m.Topic on the node
// named node only. For this node's name it is [PubSub.LocalBroadcast];
// another node is reached through the adapter, which returns
// [ErrUnknownNode] if it knows the node cannot be reached (without an
// adapter, every other node is unknown). It sets m.Origin to this node's
// name if empty, and returns [ErrClosed] after Close.
//
// Phoenix uses it to answer one node, as the presence tracker does.
func (p *PubSub) DirectBroadcast(ctx context.Context, node string, m *Message) error {
	if node == p.node {
		return p.LocalBroadcast(m)
	}
	if p.closed.Load() {
		return ErrClosed
	}
	if p.adapter == nil || node == "" {
		return ErrUnknownNode
	}
	if m.Origin == "" {
		m.Origin = p.node
	}
	if err := p.adapter.DirectBroadcast(ctx, node, m); err != nil {
		return fmt.Errorf("failed to broadcast %q to node %q: %w", m.Topic, node, err)
	}
	return nil
}

// receive is the function the adapter hands messages from other nodes to.
// It delivers m to every local subscriber of its topic (From does not
// apply), unless m is this node's own broadcast coming back, and changes
// nothing in m but its frame cache.
func (p *PubSub) receive(m *Message) {
	if p.closed.Load() || m.Origin == p.node {
		return
	}
	p.deliver(m, nil)
}

// deliver calls Deliver for every subscription of m.Topic but from. The
// connections Pyre's channels left m's frame queued on are written after
// the read lock is released (package sendbatch), also when a Deliver
// panics.
func (p *PubSub) deliver(m *Message, from *Subscription) {
	b := sendbatch.Get()
	defer b.Flush()
	sh := p.shard(m.Topic)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for _, e := range sh.topics[m.Topic] {
		switch {
		case e.s == from:
		case e.batch != nil:
			e.batch.DeliverBatch(m, b)
		default:
			e.sub.Deliver(m)
		}
	}
}

// Close stops the PubSub: later calls of Subscribe and of the broadcast
// methods return [ErrClosed], messages from other nodes are dropped, and
// the adapter is closed ([Adapter.Close]); Close returns its error.
// Subscriptions are kept and may still be ended. Close is idempotent:
// later calls return nil at once.
func (p *PubSub) Close(ctx context.Context) error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Wait for the Subscribe and Unsubscribe calls in progress, which
	// might still call Watch or Unwatch; the later ones see closed.
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		//lint:ignore SA2001 an empty critical section is the barrier.
		sh.mu.Unlock()
	}
	if p.adapter != nil {
		if err := p.adapter.Close(ctx); err != nil {
			return fmt.Errorf("failed to close the pubsub adapter of node %q: %w", p.node, err)
		}
	}
	p.log.Debug("pubsub closed")
	return nil
}
