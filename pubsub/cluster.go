package pubsub

import (
	"context"
	"sync"
	"sync/atomic"
)

// Cluster links several in-process nodes, each a [PubSub] of its own, the
// way a Redis or NATS adapter links servers: a Broadcast on one node
// reaches the subscribers of every connected node, and DirectBroadcast
// reaches one named node. It exists so that code that replicates through a
// PubSub (the presence tracker) can be tested with several nodes in one
// process, and it behaves like a network adapter where that matters:
//
//   - a message reaches another node as a copy (topic, event and payload),
//     without its From, which names a subscriber of the sending node only;
//   - a node can be disconnected ([ClusterNode.Disconnect]) to play a
//     crashed or partitioned server, and connected again.
//
// Delivery is synchronous, in the broadcaster's goroutine, as with [Local].
// A Cluster starts no goroutines. Its zero value is not usable; create it
// with [NewCluster]. All methods are safe for concurrent use.
type Cluster struct {
	mu    sync.RWMutex // Protects nodes.
	nodes map[string]*ClusterNode
}

// ClusterNode is one node of a [Cluster]: a [PubSub] whose local side is a
// [Local]. Create it with [Cluster.Node].
type ClusterNode struct {
	*Local
	cluster   *Cluster
	connected atomic.Bool
}

var _ PubSub = (*ClusterNode)(nil)

// NewCluster returns a cluster without nodes.
func NewCluster() *Cluster {
	return &Cluster{nodes: make(map[string]*ClusterNode)}
}

// Node returns the node named name, creating it, connected, on first use.
// "" creates a node with a random name.
func (c *Cluster) Node(name string) *ClusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.nodes[name]; ok && name != "" {
		return n
	}
	n := &ClusterNode{Local: NewLocal(name), cluster: c}
	n.connected.Store(true)
	c.nodes[n.Node()] = n
	return n
}

// Disconnect cuts the node off the cluster, as a crash or a network
// partition would: its broadcasts reach its own subscribers only, and
// nothing from the other nodes reaches it. Its subscriptions are kept.
func (n *ClusterNode) Disconnect() { n.connected.Store(false) }

// Connect links a disconnected node to the cluster again.
func (n *ClusterNode) Connect() { n.connected.Store(true) }

// Connected reports whether the node is linked to the cluster.
func (n *ClusterNode) Connected() bool { return n.connected.Load() }

// Broadcast delivers m to the subscribers of m.Topic on this node (except
// m.From) and a copy of it to the subscribers on every other connected node.
func (n *ClusterNode) Broadcast(_ context.Context, m *Message) error {
	n.LocalBroadcast(m)
	if !n.connected.Load() {
		return nil
	}
	n.cluster.mu.RLock()
	defer n.cluster.mu.RUnlock()
	for name, other := range n.cluster.nodes {
		if name != n.Node() && other.connected.Load() {
			other.LocalBroadcast(remoteCopy(m))
		}
	}
	return nil
}

// DirectBroadcast delivers m to the subscribers on the named node: this one,
// or another connected node. It returns [ErrUnknownNode] for a node that is
// not in the cluster or that cannot be reached (one of the two is
// disconnected).
func (n *ClusterNode) DirectBroadcast(_ context.Context, node string, m *Message) error {
	if node == n.Node() {
		n.LocalBroadcast(m)
		return nil
	}
	n.cluster.mu.RLock()
	other := n.cluster.nodes[node]
	n.cluster.mu.RUnlock()
	if other == nil || !other.connected.Load() || !n.connected.Load() {
		return ErrUnknownNode
	}
	other.LocalBroadcast(remoteCopy(m))
	return nil
}

// remoteCopy is m as another node receives it: what a network adapter
// carries (topic, event, payload), encoded anew on that node.
func remoteCopy(m *Message) *Message {
	return &Message{Topic: m.Topic, Event: m.Event, Payload: m.Payload}
}
