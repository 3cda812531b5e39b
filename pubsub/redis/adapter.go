package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/pubsub"
)

// Adapter is the [pubsub.Adapter] of one node on Redis. Create it with
// [New] and put it in [pubsub.Options]; the PubSub starts it, as its
// node, and closes it. An Adapter serves one PubSub, once: give each node
// its own.
//
// It keeps two connections to Redis: one subscribed to the node's
// channels, read by one goroutine that hands messages to the PubSub (and
// confirms watches), and one (from go-redis's pool) on which one goroutine
// publishes the queued messages in pipelined batches. A third goroutine
// applies Watch and Unwatch. Close stops and waits for all three.
//
// All methods are safe for concurrent use.
type Adapter struct {
	// Lock order: a PubSub's shard lock (held around Watch and Unwatch)
	// before watch.mu and the ready set's lock; sub.mu before go-redis's PubSub lock.
	// out.mu, episode.mu, watch.mu and the ready set's lock are taken alone
	// otherwise, and recv is called with no lock held.
	opts  Options
	codec Codec

	mu    sync.Mutex   // Serializes Start and Close.
	state atomic.Int32 // stateNew, stateRunning or stateClosed; written under mu.

	// Set by Start, before state becomes stateRunning; read-only after.
	node    string
	nodeCh  string
	recv    func(*pubsub.Message)
	log     *slog.Logger
	client  *goredis.Client
	ctx     context.Context // Canceled by Close: stops every goroutine.
	cancel  context.CancelFunc
	closing chan struct{} // Closed by Close: the publisher drains the queue and ends.
	pubDone chan struct{} // Closed when the publisher has ended.
	wg      sync.WaitGroup

	out     outbox      // Messages waiting to be published.
	down    atomic.Bool // The publisher cannot reach Redis: broadcasts are dropped at once.
	episode episode     // The drops in progress, logged once.
	sub     subConn     // The subscription connection.
	subLost atomic.Bool // The subscription connection is lost: watches are not waited for.
	watch   watches     // The watched topics, and the watches not applied yet.
	ready   readiness   // The ready channels of the watches not confirmed yet.
	stats   counters
}

const (
	stateNew int32 = iota
	stateRunning
	stateClosed
)

var _ pubsub.Adapter = (*Adapter)(nil)

// errNotStarted is returned by the methods of an Adapter used before
// Start.
var errNotStarted = errors.New("redis: adapter not started")

// New returns an adapter configured by opts, which it copies; nil is the
// zero [Options]. It does not connect: Start, called by [pubsub.New],
// does, as the PubSub's node. It fails only for inconsistent options.
func New(opts *Options) (*Adapter, error) {
	o, err := opts.cloneWithDefaults()
	if err != nil {
		return nil, err
	}
	a := &Adapter{opts: o, codec: o.Codec}
	a.out.init(o.QueueSize, o.QueueBytes)
	a.watch.init()
	return a, nil
}

// Start implements [pubsub.Adapter]: it connects to Redis and subscribes
// to the node's channel, and returns once Redis has confirmed the
// subscription, so that direct broadcasts to node reach it from then on.
// It waits for ctx, and for each step at most the dial timeout of the
// Redis options plus PublishTimeout. On failure it leaves nothing open.
func (a *Adapter) Start(ctx context.Context, node string, recv func(*pubsub.Message)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.state.Load() {
	case stateClosed:
		return pubsub.ErrClosed
	case stateRunning:
		return fmt.Errorf("redis: adapter already started as node %q", a.node)
	}
	nodeCh := a.codec.NodeChannel(node)
	client := goredis.NewClient(a.opts.Redis)
	ps := client.Subscribe(ctx, nodeCh)
	if err := confirmSubscribe(ctx, ps, nodeCh, a.opts.PublishTimeout); err != nil {
		_ = ps.Close()
		_ = client.Close()
		addr := a.opts.Redis.Addr
		if addr == "" {
			addr = "localhost:6379" // go-redis's default.
		}
		return fmt.Errorf("redis: failed to subscribe to %q on %s: %w", nodeCh, addr, err)
	}
	a.node, a.nodeCh, a.recv, a.client = node, nodeCh, recv, client
	a.log = a.opts.Logger.With("component", "pubsub/redis", "node", node)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.closing, a.pubDone = make(chan struct{}), make(chan struct{})
	a.sub.init(client, ps, nodeCh)
	a.episode.log = a.log
	a.state.Store(stateRunning)
	a.wg.Add(3)
	go a.readLoop()
	go a.applyLoop()
	go a.publishLoop()
	a.log.Debug("redis adapter started", "channel", nodeCh)
	return nil
}

// confirmSubscribe waits for Redis to confirm the subscription of ps to
// channel, within ctx and at most timeout per read.
func confirmSubscribe(ctx context.Context, ps *goredis.PubSub, channel string, timeout time.Duration) error {
	for {
		msg, err := ps.ReceiveTimeout(ctx, timeout)
		if err != nil {
			return err
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == "subscribe" && s.Channel == channel {
			return nil
		}
	}
}

// check returns why a cannot send now, or nil.
func (a *Adapter) check(ctx context.Context) error {
	switch a.state.Load() {
	case stateNew:
		return errNotStarted
	case stateClosed:
		return pubsub.ErrClosed
	}
	return ctx.Err()
}

// Broadcast implements [pubsub.Adapter]. It does not wait for Redis: it
// encodes m, queues it for the publishing goroutine and returns, so a
// broadcast never waits for the network, and broadcasts keep their order.
// When Redis is unreachable or the queue is full, the message is dropped,
// counted ([Stats].Dropped) and logged once per episode, and Broadcast
// returns nil, as a partition is silent: the local subscribers got the
// message anyway. It returns [pubsub.ErrClosed] after Close, ctx's error
// if ctx is done, and an error if m cannot be encoded.
func (a *Adapter) Broadcast(ctx context.Context, m *pubsub.Message) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if a.down.Load() {
		a.dropped(1, dropUnreachable, nil)
		return nil
	}
	data, err := a.encode(m, "")
	if err != nil {
		return err
	}
	switch a.out.push(outItem{channel: a.codec.TopicChannel(m.Topic), data: data}) {
	case pushClosed:
		return pubsub.ErrClosed
	case pushFull:
		a.dropped(1, dropQueueFull, nil)
	}
	return nil
}

// DirectBroadcast implements [pubsub.Adapter]. It queues m behind the
// broadcasts already queued and waits for its PUBLISH, at most
// PublishTimeout: it returns [pubsub.ErrUnknownNode] when no client was
// subscribed to the node's channel, [ErrUnavailable] when Redis is
// unreachable or the queue is full (the message is dropped), ctx's error
// if ctx ends first, and [pubsub.ErrClosed] after Close. After a timeout
// the message may still be published.
func (a *Adapter) DirectBroadcast(ctx context.Context, node string, m *pubsub.Message) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if a.down.Load() {
		a.dropped(1, dropUnreachable, nil)
		return fmt.Errorf("%w: redis unreachable", ErrUnavailable)
	}
	data, err := a.encode(m, node)
	if err != nil {
		return err
	}
	result := make(chan error, 1)
	switch a.out.push(outItem{channel: a.codec.NodeChannel(node), data: data, result: result}) {
	case pushClosed:
		return pubsub.ErrClosed
	case pushFull:
		a.dropped(1, dropQueueFull, nil)
		return fmt.Errorf("%w: publish queue full", ErrUnavailable)
	}
	timer := time.NewTimer(a.opts.PublishTimeout)
	defer timer.Stop()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("redis: direct broadcast to %q not confirmed within %v: %w", node, a.opts.PublishTimeout, context.DeadlineExceeded)
	}
}

// encode returns m's encoding, addressed to node to ("" for a broadcast).
func (a *Adapter) encode(m *pubsub.Message, to string) ([]byte, error) {
	e := Envelope{Origin: m.Origin, To: to, Topic: m.Topic, Event: m.Event, Payload: m.Payload}
	data, err := a.codec.Encode(make([]byte, 0, encodedSize(&e)), &e)
	if err != nil {
		return nil, fmt.Errorf("redis: failed to encode a message of %q: %w", m.Topic, err)
	}
	return data, nil
}

// Watch implements [pubsub.Adapter]: from now on the node's broadcasts of
// topic are handed to the PubSub, and the subscription to the topic's
// channel is queued for the goroutine that talks to Redis. The channel it
// returns is closed once Redis has processed the subscription (one round
// trip), or at once when the subscription connection is lost or the
// publisher finds Redis unreachable: the subscription then takes effect
// when Redis is back. It returns nil, nothing to wait for, while Redis
// is known unreachable.
func (a *Adapter) Watch(topic string) <-chan struct{} {
	if a.state.Load() != stateRunning {
		return nil
	}
	var ready chan struct{}
	if !a.subLost.Load() && !a.down.Load() {
		ready = a.ready.Add()
	}
	a.watch.set(topic, true, ready)
	if ready == nil {
		return nil
	}
	return ready
}

// Unwatch implements [pubsub.Adapter]: from now on the broadcasts of topic
// are dropped, and the unsubscription of the topic's channel is queued.
func (a *Adapter) Unwatch(topic string) {
	if a.state.Load() == stateRunning {
		a.watch.set(topic, false, nil)
	}
}

// Close implements [pubsub.Adapter]. It refuses new messages, publishes
// those already queued (within ctx), then closes the connections and
// waits for the adapter's goroutines. If ctx ends first, the messages
// still queued are dropped and Close returns ctx's error, once the
// goroutines have ended. Close is idempotent.
func (a *Adapter) Close(ctx context.Context) error {
	a.mu.Lock()
	prev := a.state.Swap(stateClosed)
	a.mu.Unlock()
	if prev != stateRunning {
		return nil
	}
	a.out.close()
	close(a.closing)
	var err error
	select {
	case <-a.pubDone:
	case <-ctx.Done():
		err = fmt.Errorf("redis: messages queued at Close were dropped: %w", ctx.Err())
	}
	a.cancel()
	a.sub.close()
	if n := a.out.discard(pubsub.ErrClosed); n > 0 {
		a.stats.dropped.Add(uint64(n))
	}
	_ = a.client.Close()
	a.wg.Wait()
	a.ready.Close()
	a.log.Debug("redis adapter closed")
	return err
}

// Stats are the counters of an [Adapter], for metrics. Counters only
// grow, from Start on.
type Stats struct {
	// Published counts the messages Redis accepted (PUBLISH answered),
	// broadcasts and direct broadcasts.
	Published uint64

	// Dropped counts the messages not published: Redis unreachable or
	// refusing them, the queue full, or still queued when Close gave up.
	Dropped uint64

	// Received counts the messages from other nodes handed to the
	// PubSub.
	Received uint64

	// Invalid counts the publications received that the codec could not
	// decode.
	Invalid uint64

	// Reconnects counts the times the subscription connection was lost
	// and made again, with every subscription restored.
	Reconnects uint64

	// Queued is the number of messages waiting to be published now.
	Queued int
}

type counters struct {
	published, dropped, received, invalid, reconnects atomic.Uint64
}

// Stats returns the adapter's counters.
func (a *Adapter) Stats() Stats {
	return Stats{
		Published:  a.stats.published.Load(),
		Dropped:    a.stats.dropped.Load(),
		Received:   a.stats.received.Load(),
		Invalid:    a.stats.invalid.Load(),
		Reconnects: a.stats.reconnects.Load(),
		Queued:     a.out.len(),
	}
}
