// Package slowwatch is a [pubsub.Adapter] for tests whose watches take
// effect late, as a network broker's do: it wraps a node of a
// [pubsub.Cluster] and applies each [pubsub.Adapter.Watch] to it after a
// delay, or when the test says, or applies it at once and never confirms
// it. Tests of the code that waits for [pubsub.Subscription.Ready] (a
// join reply, a socket id subscription) use it to show what that wait
// buys: a broadcast from another node made right after the wait arrives.
package slowwatch

import (
	"context"
	"sync"
	"time"

	"github.com/pyrehq/pyre/pubsub"
)

// Adapter is one node of a pubsub.Cluster whose watches take effect late.
// Create it with [New]. Its methods are safe for concurrent use.
type Adapter struct {
	*pubsub.ClusterAdapter
	mode  Mode
	delay time.Duration
	wg    sync.WaitGroup // The delayed watches' timers.

	mu        sync.Mutex // Protects the following. Taken under a PubSub's shard lock.
	closed    bool
	pending   map[string]*watch // The watch of each topic not applied yet.
	open      map[*watch]bool   // Every watch whose ready channel is not closed.
	confirmed map[string]bool   // The topics whose last watch has taken effect and is confirmed.
}

// Mode says when the watches of an Adapter take effect.
type Mode int8

const (
	// Delayed applies each watch after the delay given to New, then
	// closes its ready channel.
	Delayed Mode = iota
	// Manual applies a topic's watch, then closes its ready channel, when
	// the test calls [Adapter.Release].
	Manual
	// Never applies each watch at once but never closes its ready channel
	// (until Close): a broker that never confirms.
	Never
)

// watch is one Watch call.
type watch struct {
	topic string
	ready chan struct{}
}

var _ pubsub.Adapter = (*Adapter)(nil)

// New returns an adapter for one more node of c, in mode; delay is for
// Delayed only.
func New(c *pubsub.Cluster, mode Mode, delay time.Duration) *Adapter {
	return &Adapter{
		ClusterAdapter: c.Adapter(),
		mode:           mode,
		delay:          delay,
		pending:        make(map[string]*watch),
		open:           make(map[*watch]bool),
		confirmed:      make(map[string]bool),
	}
}

// Watch implements [pubsub.Adapter]: the watch takes effect as the mode
// says.
func (a *Adapter) Watch(topic string) <-chan struct{} {
	w := &watch{topic: topic, ready: make(chan struct{})}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.confirmed[topic] = false
	a.open[w] = true
	switch a.mode {
	case Never:
		a.ClusterAdapter.Watch(topic)
	case Manual:
		a.pending[topic] = w
	default:
		a.pending[topic] = w
		a.wg.Add(1)
		time.AfterFunc(a.delay, func() {
			defer a.wg.Done()
			a.mu.Lock()
			a.apply(w)
			a.mu.Unlock()
		})
	}
	return w.ready
}

// apply makes w take effect, unless the topic was unwatched since or the
// adapter closed, and closes its ready channel. a.mu must be held.
func (a *Adapter) apply(w *watch) {
	if !a.open[w] {
		return
	}
	delete(a.open, w)
	if a.pending[w.topic] == w {
		delete(a.pending, w.topic)
		if !a.closed {
			a.ClusterAdapter.Watch(w.topic)
			a.confirmed[w.topic] = true
		}
	}
	close(w.ready)
}

// Release applies the pending watch of topic (Manual) and closes its
// ready channel.
func (a *Adapter) Release(topic string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.pending[topic]; w != nil {
		a.apply(w)
	}
}

// Confirmed reports whether the last watch of topic has taken effect and
// its ready channel is closed.
func (a *Adapter) Confirmed(topic string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.confirmed[topic]
}

// Unwatch implements [pubsub.Adapter], at once.
func (a *Adapter) Unwatch(topic string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pending, topic) // Its ready channel closes in its time.
	a.confirmed[topic] = false
	a.ClusterAdapter.Unwatch(topic)
}

// Close implements [pubsub.Adapter]: it closes every ready channel, waits
// for the timers, and closes the node.
func (a *Adapter) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	for w := range a.open {
		delete(a.open, w)
		close(w.ready)
	}
	a.mu.Unlock()
	a.wg.Wait()
	return a.ClusterAdapter.Close(ctx)
}
