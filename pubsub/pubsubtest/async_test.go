package pubsubtest_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// broker is an in-memory message broker that behaves like Redis pub/sub
// seen through a network: publications and subscriptions are queued and
// applied later, by goroutines, with delays; a publisher that subscribes
// to a channel gets its own publications back.
type broker struct {
	flaw string // A rule the adapters break on purpose, or "".

	mu       sync.Mutex
	channels map[string]map[*asyncAdapter]bool
}

func newBroker(flaw string) *broker {
	return &broker{flaw: flaw, channels: make(map[string]map[*asyncAdapter]bool)}
}

func (b *broker) subscribe(channel string, a *asyncAdapter, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := b.channels[channel]
	if subs == nil {
		subs = make(map[*asyncAdapter]bool)
		b.channels[channel] = subs
	}
	if on {
		subs[a] = true
	} else {
		delete(subs, a)
	}
}

func (b *broker) publish(channel string, w wire) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for a := range b.channels[channel] {
		a.in.push(w)
	}
}

// wire is a message as the broker carries it.
type wire struct {
	channel, topic, event, origin string
	payload                       []byte
	binary                        bool
	msg                           *pubsub.Message // Only for the flaw "same-message".
}

// command is a publication or a (un)subscription for the broker.
type command struct {
	w         wire
	subscribe string // A channel to (un)subscribe, or "" for a publication.
	on        bool
	ready     chan struct{} // A subscription's: closed once the broker has it.
}

// asyncAdapter is the Adapter of one node on a broker: one goroutine
// sends its commands to the broker in order, another hands what the
// broker sends it to recv.
type asyncAdapter struct {
	b    *broker
	node string
	recv func(*pubsub.Message)
	out  queue[command]
	in   queue[wire]
	wg   sync.WaitGroup

	mu     sync.Mutex
	closed bool
	held   *command // For the flaw "reorder".
}

var _ pubsub.Adapter = (*asyncAdapter)(nil)

func (b *broker) adapter() *asyncAdapter {
	a := &asyncAdapter{b: b}
	a.out.init()
	a.in.init()
	return a
}

func (a *asyncAdapter) Start(_ context.Context, node string, recv func(*pubsub.Message)) error {
	a.node, a.recv = node, recv
	a.b.subscribe("node:"+node, a, true) // Direct broadcasts work at once.
	a.wg.Add(2)
	go a.sendLoop()
	go a.recvLoop()
	return nil
}

func (a *asyncAdapter) sendLoop() {
	defer a.wg.Done()
	for {
		c, ok := a.out.pop()
		if !ok {
			return
		}
		if c.subscribe != "" {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			if !c.on && a.b.flaw == "ignore-unwatch" {
				continue
			}
			a.b.subscribe(c.subscribe, a, c.on)
			if c.ready != nil {
				close(c.ready)
			}
			continue
		}
		if a.b.flaw == "reorder" && c.w.event != "barrier" && !isProbe(c.w.event) {
			if a.held == nil {
				a.held = &c
				continue
			}
			a.b.publish(c.w.channel, c.w)
			c = *a.held
			a.held = nil
		}
		a.b.publish(c.w.channel, c.w)
	}
}

func (a *asyncAdapter) recvLoop() {
	defer a.wg.Done()
	for {
		w, ok := a.in.pop()
		if !ok {
			return
		}
		if a.b.flaw == "drop" && w.event == "new_msg" {
			continue
		}
		if a.b.flaw == "same-message" && w.msg != nil {
			a.recv(w.msg)
			continue
		}
		p := protocol.JSON(w.payload)
		if w.binary {
			p = protocol.Binary(w.payload)
		}
		m := &pubsub.Message{Topic: w.topic, Event: w.event, Payload: p, Origin: w.origin}
		if a.b.flaw == "echo-without-origin" && w.origin == a.node {
			m.Origin = ""
		}
		a.recv(m)
	}
}

func (a *asyncAdapter) send(ctx context.Context, channel string, m *pubsub.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return pubsub.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := wire{channel: channel, topic: m.Topic, event: m.Event, origin: m.Origin,
		payload: bytes.Clone(m.Payload.Bytes()), binary: m.Payload.IsBinary()}
	switch a.b.flaw {
	case "keep-payload":
		w.payload = m.Payload.Bytes()
	case "same-message":
		w.msg = m
	}
	a.out.push(command{w: w})
	return nil
}

func (a *asyncAdapter) Broadcast(ctx context.Context, m *pubsub.Message) error {
	return a.send(ctx, "topic:"+m.Topic, m)
}

func (a *asyncAdapter) DirectBroadcast(ctx context.Context, node string, m *pubsub.Message) error {
	return a.send(ctx, "node:"+node, m)
}

func (a *asyncAdapter) Watch(topic string) <-chan struct{} {
	if a.b.flaw == "ready-early" {
		a.out.push(command{subscribe: "topic:" + topic, on: true})
		return nil
	}
	ready := make(chan struct{})
	if !a.out.push(command{subscribe: "topic:" + topic, on: true, ready: ready}) {
		close(ready)
	}
	return ready
}

func (a *asyncAdapter) Unwatch(topic string) {
	a.out.push(command{subscribe: "topic:" + topic, on: false})
}

func (a *asyncAdapter) Close(context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.out.close()
	a.b.mu.Lock()
	for _, subs := range a.b.channels {
		delete(subs, a)
	}
	a.b.mu.Unlock()
	a.in.close()
	a.wg.Wait()
	// The subscriptions the sender did not get to: nobody waits for them.
	for _, c := range a.out.drain() {
		if c.ready != nil {
			close(c.ready)
		}
	}
	return nil
}

// queue is an unbounded FIFO: push never blocks, pop waits.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	ready  chan struct{} // One slot: something to pop, or closed.
}

func (q *queue[T]) init() { q.ready = make(chan struct{}, 1) }

// push queues v and reports whether it did: not once the queue is
// closed.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	ok := !q.closed
	if ok {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	q.kick()
	return ok
}

func (q *queue[T]) kick() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// close makes push and pop fail; drain returns what was left.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.kick()
}

// drain empties a closed queue and returns what it held.
func (q *queue[T]) drain() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// pop returns the next item, or false once the queue is closed.
func (q *queue[T]) pop() (T, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			var zero T
			return zero, false
		}
		if len(q.items) > 0 {
			v := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return v, true
		}
		q.mu.Unlock()
		<-q.ready
	}
}
