package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pyrehq/pyre/internal/readyset"
	"github.com/pyrehq/pyre/pubsub"
)

// Adapter is a [pubsub.Adapter] that carries messages between the nodes of
// a cluster through a NATS server (or a NATS cluster). Create it with
// [New] and put it in [pubsub.Options]; the [pubsub.PubSub] starts it,
// which connects to NATS, and closes it, which disconnects. Each node needs
// its own Adapter.
//
// An Adapter owns its NATS connection, with nats.go's goroutines, and
// three goroutines of its own: the writer, which alone publishes and
// (un)subscribes, in order; the reader, which decodes the messages from
// NATS and hands them to the PubSub; and the confirmer, which makes the
// round trip (a PING) that tells when the subscriptions of new watches
// have reached the server. Close ends them all.
//
// All methods are safe for concurrent use.
type Adapter struct {
	// Lock order: mu, then the outbox's, health's and confirm's mutexes,
	// which are leaves; a PubSub's shard lock (held around Watch and
	// Unwatch) before the outbox's and confirm's. nats.go's locks are
	// taken with none of the adapter's held, and its handlers take only
	// health's and confirm's.

	opts    Options      // With defaults.
	nopts   nats.Options // nats.go options, before Start adds the handlers.
	subj    subjects
	log     *slog.Logger
	out     *outbox
	in      chan *nats.Msg // The messages of every subscription, for the reader.
	h       health
	confirm confirms // The ready channels of the watches not confirmed yet.

	state      atomic.Int32 // stateNew, stateRunning or stateClosed.
	closing    atomic.Bool  // Close is disconnecting: connection events are expected.
	maxPayload atomic.Int64 // The server's max_payload, 0 before Start.

	// Set by Start, with mu held, before the goroutines start; read-only
	// afterwards.
	mu     sync.Mutex // Serializes Start and Close.
	nc     *nats.Conn
	node   string
	recv   func(*pubsub.Message)
	stop   chan struct{} // Closed by Close: the reader stops.
	reader chan struct{} // Closed when the reader has returned.
	writer chan struct{} // Closed when the writer has returned.
	ncDone chan struct{} // Closed by nats.go's closed handler.

	confirmCtx    context.Context // Canceled by Close: the confirmer stops.
	confirmCancel context.CancelFunc
	confirmer     chan struct{} // Closed when the confirmer has returned.

	published, dropped, received, malformed, reconnects atomic.Uint64
	asyncErrLog, malformedLog                           throttle
}

var _ pubsub.Adapter = (*Adapter)(nil)

// Adapter states.
const (
	stateNew int32 = iota
	stateRunning
	stateClosed
)

// recvBuffer is the number of messages from NATS that may wait for the
// reader. nats.go drops the messages of a subscription whose buffer is
// full (a slow consumer) and reports it, which the adapter logs; the
// reader only decodes and hands messages to subscribers that do not
// block, so it keeps up unless the process is starved.
const recvBuffer = 1 << 16

// closeFlushTimeout bounds the flush in Close when its ctx has no deadline.
const closeFlushTimeout = 5 * time.Second

// confirmTimeout bounds the round trip that confirms new watches. Past
// it, on a connection nats.go has not given up on yet (a stalled socket),
// the watches' ready channels are closed anyway: nobody should wait on a
// broker that does not answer.
const confirmTimeout = 5 * time.Second

// New returns an adapter configured by opts, which it copies; nil is the
// zero [Options]. It checks the options and connects nothing: the
// [pubsub.PubSub] given the adapter starts it, within the context given to
// [pubsub.New], and it is then that the adapter connects to NATS.
func New(opts *Options) (*Adapter, error) {
	o := cloneWithDefaults(opts)
	if err := checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	no, err := natsOptions(&o)
	if err != nil {
		return nil, fmt.Errorf("pubsub/nats: bad NATS option: %w", err)
	}
	a := &Adapter{
		opts:  o,
		nopts: no,
		subj:  subjects{prefix: o.Prefix},
		log:   o.Logger.With("component", "pubsub/nats"),
		out:   newOutbox(o.MaxPending),
		in:    make(chan *nats.Msg, recvBuffer),
	}
	a.confirm.init()
	a.h.bufSize = no.ReconnectBufSize
	return a, nil
}

// Start implements [pubsub.Adapter]: it connects to NATS as node, and
// subscribes to node's subject, and flushes, so that direct broadcasts to
// node reach it as soon as Start returns. It fails if NATS cannot be
// reached: each server is tried once, for at most ctx's deadline (without
// one, nats.go's connect Timeout, 2 s by default). A failed Start leaves
// the adapter closed.
func (a *Adapter) Start(ctx context.Context, node string, recv func(*pubsub.Message)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.state.Load() {
	case stateRunning:
		return fmt.Errorf("pubsub/nats: adapter already started as node %q", a.node)
	case stateClosed:
		return pubsub.ErrClosed
	}
	a.state.Store(stateClosed) // Until Start succeeds.
	if err := ctx.Err(); err != nil {
		return err
	}
	a.node, a.recv = node, recv
	a.log = a.log.With("node", node)
	a.h.log = a.log
	a.stop, a.reader, a.writer, a.ncDone = make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	a.confirmCtx, a.confirmCancel = context.WithCancel(context.Background())
	a.confirmer = make(chan struct{})

	no := a.nopts
	if no.Name == "" {
		no.Name = "pyre " + node
	}
	if dl, ok := ctx.Deadline(); ok {
		no.Timeout = max(min(no.Timeout, time.Until(dl)), time.Millisecond)
	}
	a.hook(&no)
	nc, err := no.Connect()
	if err != nil {
		a.confirmCancel()
		return fmt.Errorf("pubsub/nats: cannot connect to %s: %w", redactURLs(a.opts.URL), err)
	}
	a.nc = nc
	a.maxPayload.Store(nc.MaxPayload())
	a.h.connected.Store(nc.IsConnected())
	go a.readLoop()
	go a.writeLoop()
	go a.confirmLoop()

	if _, err = nc.ChanSubscribe(a.subj.node(node), a.in); err == nil {
		fctx, cancel := withDeadline(ctx, no.Timeout)
		err = nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeFlushTimeout)
		_ = a.shutdown(sctx) // The error to report is err.
		cancel()
		return fmt.Errorf("pubsub/nats: cannot subscribe to the subject of node %q: %w", node, err)
	}
	a.state.Store(stateRunning)
	a.log.Debug("nats adapter started", "url", nc.ConnectedUrlRedacted(), "prefix", a.opts.Prefix)
	return nil
}

// hook installs the adapter's connection handlers in no; those already set
// there (the caller's) run after the adapter's.
func (a *Adapter) hook(no *nats.Options) {
	userDisconnected, userDisconnectedErr := no.DisconnectedCB, no.DisconnectedErrCB
	no.DisconnectedCB = nil // DisconnectedErrCB takes precedence in nats.go.
	no.DisconnectedErrCB = func(nc *nats.Conn, err error) {
		if !a.closing.Load() {
			a.h.disconnected(err)
			a.confirm.ReleaseAll() // The watches take effect on reconnection.
		}
		if userDisconnectedErr != nil {
			userDisconnectedErr(nc, err)
		} else if userDisconnected != nil {
			userDisconnected(nc)
		}
	}
	userConnected := no.ConnectedCB
	no.ConnectedCB = func(nc *nats.Conn) { // A first connection made late (nats.RetryOnFailedConnect).
		a.maxPayload.Store(nc.MaxPayload())
		a.h.connected.Store(true)
		if userConnected != nil {
			userConnected(nc)
		}
	}
	userReconnected := no.ReconnectedCB
	no.ReconnectedCB = func(nc *nats.Conn) {
		a.reconnects.Add(1)
		// Another server of the cluster may have another max_payload.
		a.maxPayload.Store(nc.MaxPayload())
		a.h.reconnected()
		if userReconnected != nil {
			userReconnected(nc)
		}
	}
	userReconnectErr := no.ReconnectErrCB
	no.ReconnectErrCB = func(nc *nats.Conn, err error) {
		a.log.Debug("nats reconnection attempt failed", "err", err)
		if userReconnectErr != nil {
			userReconnectErr(nc, err)
		}
	}
	userAsyncErr := no.AsyncErrorCB
	no.AsyncErrorCB = func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if a.asyncErrLog.allow(time.Minute) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				a.log.Warn("messages from other nodes dropped: the adapter's receive buffer is full", "err", err)
			} else {
				a.log.Warn("nats error", "err", err)
			}
		}
		if userAsyncErr != nil {
			userAsyncErr(nc, sub, err)
		}
	}
	userClosed := no.ClosedCB
	done := a.ncDone
	no.ClosedCB = func(nc *nats.Conn) {
		if !a.closing.Load() {
			// nats.go gave up (MaxReconnects, an authorization error):
			// this node is cut off from the others until it restarts.
			a.h.connected.Store(false)
			a.confirm.ReleaseAll()
			a.log.Error("nats connection closed: this node no longer reaches the others", "err", nc.LastError())
		}
		if userClosed != nil {
			userClosed(nc)
		}
		close(done)
	}
}

// withDeadline returns ctx if it has a deadline, else ctx bounded by d.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Broadcast implements [pubsub.Adapter]: it encodes m and queues one
// publication on the subject of m.Topic, which every node that watches
// the topic subscribes to. It never waits for NATS: while NATS is
// unreachable, nats.go keeps the publications (8 MiB by default) and sends
// them on reconnection; past that, or past [Options].MaxPending while the
// connection is stalled, the broadcast is dropped, counted
// ([Stats].Dropped) and logged once per episode, and Broadcast returns nil,
// as the local delivery has happened and a partition is silent.
//
// It returns [ErrTooLarge] for a message larger than the server's
// max_payload, ctx's error if ctx is done, and [pubsub.ErrClosed] after
// Close.
func (a *Adapter) Broadcast(ctx context.Context, m *pubsub.Message) error {
	return a.publish(ctx, a.subj.topic(m.Topic), m)
}

// DirectBroadcast implements [pubsub.Adapter]: it queues one publication
// on the subject of node, which that node subscribes to from its Start,
// whatever its topics. It behaves as [Adapter.Broadcast].
//
// It returns nil for a node that does not exist: core NATS cannot tell
// without a round trip (a request, answered by the node or by the
// server's "no responders"), which would make every direct broadcast wait
// for the network. The users of direct broadcasts do not need it: presence
// repairs lost gossip with its heartbeats, and a long-poll request carried
// to another node waits for that node's acknowledgement anyway.
func (a *Adapter) DirectBroadcast(ctx context.Context, node string, m *pubsub.Message) error {
	return a.publish(ctx, a.subj.node(node), m)
}

func (a *Adapter) publish(ctx context.Context, subject string, m *pubsub.Message) error {
	switch a.state.Load() {
	case stateNew:
		return errNotStarted
	case stateClosed:
		return pubsub.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data := encodeMessage(m)
	if limit := a.maxPayload.Load(); limit > 0 && int64(len(data)) > limit {
		return fmt.Errorf("%w: %d bytes encoded, max_payload is %d", ErrTooLarge, len(data), limit)
	}
	err := a.out.push(outItem{kind: outPublish, subject: subject, data: data})
	if errors.Is(err, errQueueFull) {
		a.dropped.Add(1)
		a.h.drop(err)
		return nil
	}
	return err
}

// Watch implements [pubsub.Adapter]: it queues a subscription to the
// topic's subject, which the writer goroutine makes; it does not block.
// The channel it returns is closed once the server has the subscription
// (a PING after it answered: one round trip), or as soon as the
// connection drops; while NATS is unreachable, it returns nil: nothing to
// wait for, the subscription is sent on reconnection.
func (a *Adapter) Watch(topic string) <-chan struct{} {
	var ready chan struct{}
	if a.state.Load() == stateRunning && a.h.connected.Load() {
		ready = a.confirm.Add()
	}
	if err := a.out.push(outItem{kind: outWatch, topic: topic, ready: ready}); err != nil { // Fails only after Close.
		a.confirm.Release(ready)
		return nil
	}
	if ready == nil {
		return nil
	}
	return ready
}

// Unwatch implements [pubsub.Adapter]: it queues the end of the topic's
// subscription. Messages of the topic that reached the adapter before are
// dropped.
func (a *Adapter) Unwatch(topic string) {
	_ = a.out.push(outItem{kind: outUnwatch, topic: topic})
}

// writeLoop is the writer goroutine: the only one that publishes and
// (un)subscribes, in the order the items were queued.
func (a *Adapter) writeLoop() {
	defer close(a.writer)
	subs := make(map[string]*nats.Subscription) // The watched topics.
	for {
		batch, ok := a.out.take()
		if !ok {
			return
		}
		for i := range batch {
			a.apply(&batch[i], subs)
		}
		a.out.recycle(batch)
	}
}

// apply does one item of the outbox. Only the writer calls it.
func (a *Adapter) apply(it *outItem, subs map[string]*nats.Subscription) {
	switch it.kind {
	case outPublish:
		// nats.go copies data into its buffer, or its reconnect buffer
		// while reconnecting, which refuses data past its size.
		if err := a.nc.Publish(it.subject, it.data); err != nil {
			a.dropped.Add(1)
			if !a.closing.Load() {
				a.h.drop(err)
			}
			return
		}
		a.published.Add(1)
	case outWatch:
		if subs[it.topic] != nil {
			a.confirm.Release(it.ready)
			return // Watch and Unwatch alternate: cannot happen.
		}
		// While reconnecting, nats.go records the subscription and sends
		// it once connected, with all the others.
		sub, err := a.nc.ChanSubscribe(a.subj.topic(it.topic), a.in)
		if err != nil {
			a.confirm.Release(it.ready)
			a.log.Error("cannot watch a topic", "topic", it.topic, "err", err)
			return
		}
		subs[it.topic] = sub
		// The SUB is in the connection's buffer: a PING sent from now on
		// follows it.
		a.confirm.subscribed(it.ready)
	case outUnwatch:
		sub := subs[it.topic]
		if sub == nil {
			return
		}
		delete(subs, it.topic)
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			a.log.Error("cannot unwatch a topic", "topic", it.topic, "err", err)
		}
	}
}

// confirmLoop is the confirmer goroutine: for the watches whose
// subscriptions the writer has handed to the connection, it makes a round
// trip to the server (a PING, answered after the SUBs sent before it) and
// closes their ready channels, one round trip per batch. If the round
// trip fails (the connection dropped, confirmTimeout, Close), it closes
// them all the same: the subscriptions take effect when the connection
// is back, and nobody waits meanwhile.
func (a *Adapter) confirmLoop() {
	defer close(a.confirmer)
	for {
		select {
		case <-a.confirm.wake:
		case <-a.confirmCtx.Done():
			return
		}
		batch := a.confirm.Take(1)
		if len(batch) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(a.confirmCtx, confirmTimeout)
		err := a.nc.FlushWithContext(ctx)
		cancel()
		for _, c := range batch {
			close(c)
		}
		if err != nil && a.confirmCtx.Err() == nil {
			a.log.Debug("watches not confirmed by the server", "watches", len(batch), "err", err)
		}
	}
}

// confirms holds the ready channels of the watches not confirmed yet
// (marked 1 once the SUB is in the connection's buffer), and wakes the
// confirmer when one is.
type confirms struct {
	wake chan struct{} // One slot: a subscription awaits its round trip.
	readyset.Set
}

func (c *confirms) init() { c.wake = make(chan struct{}, 1) }

// subscribed marks ch's subscription as sent, for the confirmer.
func (c *confirms) subscribed(ch chan struct{}) {
	if c.Mark(1, ch) {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// readLoop is the reader goroutine: it hands the messages of every
// subscription to recv, one at a time, in the order they arrived.
func (a *Adapter) readLoop() {
	defer close(a.reader)
	for {
		select {
		case <-a.stop:
			return
		case msg := <-a.in:
			a.handle(msg)
		}
	}
}

func (a *Adapter) handle(msg *nats.Msg) {
	// A message of a topic unwatched since it arrived: the PubSub has no
	// subscriber for it, or new ones that came after the unwatch.
	if !msg.Sub.IsValid() {
		return
	}
	m, err := decodeMessage(msg.Data)
	if err != nil {
		n := a.malformed.Add(1)
		if a.malformedLog.allow(time.Minute) {
			a.log.Warn("message from NATS dropped: it cannot be decoded", "subject", msg.Subject, "err", err, "malformed", n)
		}
		return
	}
	a.received.Add(1)
	a.recv(m)
}

// Close implements [pubsub.Adapter]: later broadcasts return
// [pubsub.ErrClosed]; the broadcasts queued before are handed to the
// connection and flushed, within ctx (5 s without a deadline); then the
// reader stops (recv is not called after Close returns) and the connection
// is closed, which ends the node's subscriptions. Close waits for its
// goroutines, or for ctx, and returns ctx's error if ctx ends first. Close
// is idempotent.
func (a *Adapter) Close(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state.Swap(stateClosed) != stateRunning {
		return nil
	}
	if err := a.shutdown(ctx); err != nil {
		return fmt.Errorf("pubsub/nats: close of node %q: %w", a.node, err)
	}
	a.log.Debug("nats adapter closed")
	return nil
}

// shutdown stops a started adapter: it drains the outbox, flushes, stops
// the reader and closes the connection, within ctx. a.mu must be held.
func (a *Adapter) shutdown(ctx context.Context) error {
	var err error
	a.out.close()
	select {
	case <-a.writer:
		if a.h.connected.Load() {
			fctx, cancel := withDeadline(ctx, closeFlushTimeout)
			if ferr := a.nc.FlushWithContext(fctx); ferr != nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			cancel()
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	close(a.stop)
	<-a.reader // It never blocks for long: recv does not block.
	a.confirmCancel()
	<-a.confirmer // Its round trip ends with its context.
	a.confirm.Close()
	a.h.close()

	// nats.go's Close flushes, which may wait for a stalled socket (up to
	// its FlusherTimeout): run it aside, and wait for it within ctx.
	a.closing.Store(true)
	nc, cb := a.nc, !a.nopts.NoCallbacksAfterClientClose
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		nc.Close()
		if cb {
			<-a.ncDone // Our handlers, on nats.go's callback goroutine, are done.
		}
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Stats is a snapshot of an adapter's counters, since Start.
type Stats struct {
	// Connected reports whether the connection to NATS is up.
	Connected bool
	// Published counts the broadcasts and direct broadcasts handed to the
	// connection: sent, or kept by nats.go while it reconnects.
	Published uint64
	// Dropped counts the broadcasts and direct broadcasts lost on this
	// node: refused by the connection (its reconnect buffer full) or not
	// queued ([Options].MaxPending reached).
	Dropped uint64
	// Received counts the messages from other nodes handed to the PubSub.
	Received uint64
	// Malformed counts the messages from NATS dropped because they could
	// not be decoded (another encoding version, or not from an adapter).
	Malformed uint64
	// Reconnects counts the times the connection came back after a loss.
	Reconnects uint64
}

// Stats returns the adapter's counters. It never blocks.
func (a *Adapter) Stats() Stats {
	return Stats{
		Connected:  a.state.Load() == stateRunning && a.h.connected.Load(),
		Published:  a.published.Load(),
		Dropped:    a.dropped.Load(),
		Received:   a.received.Load(),
		Malformed:  a.malformed.Load(),
		Reconnects: a.reconnects.Load(),
	}
}
