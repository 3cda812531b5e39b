package nats

import (
	"sync"

	"github.com/pyrehq/pyre/pubsub"
)

// outbox is the queue between the adapter's callers (Broadcast,
// DirectBroadcast, Watch, Unwatch) and its writer goroutine, the only one
// that calls the NATS connection. A call into the connection may wait for
// its lock while nats.go writes to a stalled socket (up to its
// FlusherTimeout), and Watch and Unwatch run under a lock of the PubSub,
// so callers only queue: push never blocks beyond the outbox's mutex.
//
// Items come out in push order, which keeps the order of a node's
// broadcasts, and of the watches and unwatches of a topic. Publications
// count against a limit in bytes; watches and unwatches are never refused.
type outbox struct {
	limit int
	wake  chan struct{} // 1-buffered: an item was pushed, or the outbox closed.

	mu     sync.Mutex // Protects the following.
	items  []outItem  // Waiting, oldest first.
	spare  []outItem  // Empty buffer to swap with items; nil while the writer holds it.
	bytes  int        // Bytes of the publications in items.
	closed bool
}

// outKind is what an outItem asks of the connection.
type outKind uint8

const (
	outPublish outKind = iota
	outWatch
	outUnwatch
)

// outItem is one piece of work for the writer.
type outItem struct {
	kind    outKind
	subject string        // The subject to publish to (outPublish).
	data    []byte        // The encoded message (outPublish).
	topic   string        // The topic to watch or unwatch.
	ready   chan struct{} // outWatch: closed once the subscription took effect, or nil.
}

func newOutbox(limit int) *outbox {
	return &outbox{limit: limit, wake: make(chan struct{}, 1)}
}

// push queues it. It returns pubsub.ErrClosed after close, and
// errQueueFull when a publication would take the waiting bytes past the
// limit (one publication alone is always accepted).
func (o *outbox) push(it outItem) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return pubsub.ErrClosed
	}
	if it.kind == outPublish {
		if o.bytes > 0 && o.bytes+len(it.data) > o.limit {
			o.mu.Unlock()
			return errQueueFull
		}
		o.bytes += len(it.data)
	}
	o.items = append(o.items, it)
	o.mu.Unlock()
	o.signal()
	return nil
}

// close makes push fail from now on; the items queued are still taken.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default: // A wake-up is pending already.
	}
}

// take waits for items and returns them all, oldest first. It returns
// ok false once the outbox is closed and empty. The batch belongs to the
// caller until it gives it back with recycle.
func (o *outbox) take() (batch []outItem, ok bool) {
	for {
		o.mu.Lock()
		if len(o.items) > 0 {
			batch = o.items
			o.items, o.spare = o.spare[:0], nil
			o.bytes = 0
			o.mu.Unlock()
			return batch, true
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return nil, false
		}
		<-o.wake
	}
}

// recycle gives back a batch returned by take, emptied, for reuse.
func (o *outbox) recycle(batch []outItem) {
	clear(batch) // Keep no message bytes alive.
	o.mu.Lock()
	o.spare = batch[:0]
	o.mu.Unlock()
}
