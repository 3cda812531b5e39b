package pubsub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pyrehq/pyre/protocol"
)

// Cluster links in-process nodes the way Redis or NATS links servers, for
// tests and examples of multi-node features (presence, long-poll sessions
// held by another node). Each node is a [PubSub] whose adapter comes from
// [Cluster.Adapter].
//
// It behaves like a network adapter where that matters:
//
//   - a broadcast reaches only the other running, connected nodes that
//     watch its topic;
//   - each receiving node gets a copy of the message (Topic, Event, Origin
//     and a copy of the Payload bytes, of the same kind), never its From;
//   - DirectBroadcast to a node that is not running or cannot be reached
//     returns [ErrUnknownNode];
//   - a node can be cut off ([ClusterAdapter.Disconnect]) to play a crash
//     or a partition, and linked again.
//
// Unlike a network adapter it delivers synchronously, in the goroutine
// that broadcasts: when Broadcast returns, every subscriber on every node
// has been called, which keeps tests deterministic. It starts no
// goroutines.
//
// Create a Cluster with [NewCluster]. Its methods, and those of its
// adapters, are safe for concurrent use.
type Cluster struct {
	// Lock order: Cluster.mu before ClusterAdapter.mu, and a PubSub's
	// shard lock (held around Watch and Unwatch) before ClusterAdapter.mu.
	// recv is called with none of them held.
	mu    sync.RWMutex               // Protects nodes.
	nodes map[string]*ClusterAdapter // The running nodes, by name.
}

// NewCluster returns a cluster without nodes.
func NewCluster() *Cluster {
	return &Cluster{nodes: make(map[string]*ClusterAdapter)}
}

// Adapter returns a new adapter for one more node of c. The node joins the
// cluster when a [PubSub] starts the adapter, under the PubSub's node
// name, and leaves it when the PubSub is closed.
func (c *Cluster) Adapter() *ClusterAdapter {
	a := &ClusterAdapter{cluster: c, watched: make(map[string]struct{})}
	a.connected.Store(true)
	return a
}

// ClusterAdapter is the [Adapter] of one node of a [Cluster]. It starts
// connected.
type ClusterAdapter struct {
	cluster   *Cluster
	connected atomic.Bool

	mu      sync.Mutex // Protects the following.
	state   adapterState
	node    string
	recv    func(*Message)
	watched map[string]struct{}

	// inflight counts the deliveries to this node in progress, so that
	// Close can wait for them. Add is called with mu held and the state
	// running, and Close waits after leaving that state.
	inflight sync.WaitGroup
}

type adapterState int8

const (
	adapterNew adapterState = iota
	adapterRunning
	adapterClosed
)

var _ Adapter = (*ClusterAdapter)(nil)

// errNotStarted is returned by the broadcasts of a ClusterAdapter that has
// not been started.
var errNotStarted = errors.New("pubsub: cluster adapter not started")

// Disconnect cuts the node off the cluster, as a crash or a network
// partition would: nothing crosses to or from it. Its broadcasts reach its
// own subscribers only (Broadcast returns nil, as a partition is silent),
// its direct broadcasts to other nodes, and theirs to it, return
// [ErrUnknownNode]. Its subscriptions are kept.
func (a *ClusterAdapter) Disconnect() { a.connected.Store(false) }

// Connect links a disconnected node to the cluster again. Messages sent
// while it was disconnected are lost.
func (a *ClusterAdapter) Connect() { a.connected.Store(true) }

// Connected reports whether the node is linked to the cluster.
func (a *ClusterAdapter) Connected() bool { return a.connected.Load() }

// Start implements [Adapter]: the node joins the cluster as node. It fails
// if a running node of the cluster has that name, or if a was started
// before.
func (a *ClusterAdapter) Start(_ context.Context, node string, recv func(*Message)) error {
	c := a.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.state == adapterClosed:
		return ErrClosed
	case a.state == adapterRunning:
		return fmt.Errorf("pubsub: cluster adapter already started as node %q", a.node)
	case c.nodes[node] != nil:
		return fmt.Errorf("pubsub: node %q is already in the cluster", node)
	}
	a.state, a.node, a.recv = adapterRunning, node, recv
	c.nodes[node] = a
	return nil
}

// Watch implements [Adapter]. The watch takes effect before Watch
// returns, so it returns nil: the topic's subscribers are ready at once.
func (a *ClusterAdapter) Watch(topic string) <-chan struct{} {
	a.mu.Lock()
	a.watched[topic] = struct{}{}
	a.mu.Unlock()
	return nil
}

// Unwatch implements [Adapter].
func (a *ClusterAdapter) Unwatch(topic string) {
	a.mu.Lock()
	delete(a.watched, topic)
	a.mu.Unlock()
}

// Broadcast implements [Adapter]: it delivers a copy of m on every other
// running, connected node of the cluster that watches m.Topic, before it
// returns. It returns nil at once if a is disconnected, and ctx's error if
// ctx is done.
func (a *ClusterAdapter) Broadcast(ctx context.Context, m *Message) error {
	if err := a.check(ctx); err != nil || !a.connected.Load() {
		return err
	}
	// Take the receivers, then deliver with no lock held: a receiver's
	// recv takes its PubSub's locks, under which Watch takes a.mu.
	type receiver struct {
		node *ClusterAdapter
		recv func(*Message)
	}
	var to []receiver
	c := a.cluster
	c.mu.RLock()
	for _, b := range c.nodes {
		if b == a {
			continue
		}
		if recv := b.begin(m.Topic, false); recv != nil {
			to = append(to, receiver{b, recv})
		}
	}
	c.mu.RUnlock()
	for _, r := range to {
		r.node.deliver(r.recv, m)
	}
	return nil
}

// DirectBroadcast implements [Adapter]: it delivers a copy of m on the
// node named node, if that node is running and both it and a are
// connected, before it returns; otherwise it returns [ErrUnknownNode].
func (a *ClusterAdapter) DirectBroadcast(ctx context.Context, node string, m *Message) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if !a.connected.Load() {
		return ErrUnknownNode
	}
	c := a.cluster
	c.mu.RLock()
	b := c.nodes[node]
	var recv func(*Message)
	if b != nil {
		recv = b.begin("", true)
	}
	c.mu.RUnlock()
	if recv == nil {
		return ErrUnknownNode
	}
	b.deliver(recv, m)
	return nil
}

// check returns why a cannot send now, or nil.
func (a *ClusterAdapter) check(ctx context.Context) error {
	a.mu.Lock()
	state := a.state
	a.mu.Unlock()
	switch state {
	case adapterNew:
		return errNotStarted
	case adapterClosed:
		return ErrClosed
	}
	return ctx.Err()
}

// begin returns a's recv if a receives a broadcast of topic now (with
// direct, any message), and counts one delivery in progress, to be ended
// by deliver; otherwise it returns nil.
func (a *ClusterAdapter) begin(topic string, direct bool) func(*Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != adapterRunning || !a.connected.Load() {
		return nil
	}
	if _, ok := a.watched[topic]; !ok && !direct {
		return nil
	}
	a.inflight.Add(1)
	return a.recv
}

// deliver hands recv a copy of m, as a network adapter would decode it:
// a new Message with its own Payload bytes and frame cache, without From.
func (a *ClusterAdapter) deliver(recv func(*Message), m *Message) {
	defer a.inflight.Done()
	p := m.Payload
	if p.IsBinary() {
		p = protocol.Binary(bytes.Clone(p.Bytes()))
	} else {
		p = protocol.JSON(bytes.Clone(p.Bytes()))
	}
	recv(&Message{Topic: m.Topic, Event: m.Event, Payload: p, Origin: m.Origin})
}

// Close implements [Adapter]: the node leaves the cluster, once the
// deliveries to it in progress have ended, and its name is free again.
func (a *ClusterAdapter) Close(context.Context) error {
	c := a.cluster
	c.mu.Lock()
	a.mu.Lock()
	running := a.state == adapterRunning
	a.state = adapterClosed
	if running && c.nodes[a.node] == a {
		delete(c.nodes, a.node)
	}
	a.mu.Unlock()
	c.mu.Unlock()
	if running {
		a.inflight.Wait()
	}
	return nil
}
