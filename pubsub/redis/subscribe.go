package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/pubsub"
)

// What go-redis's PubSub does by itself, and what the adapter adds:
//
//   - go-redis keeps the set of subscribed channels, adds a channel to it
//     even when its SUBSCRIBE fails on a broken connection, and on the
//     next read after a connection error dials again and subscribes to the
//     whole set. So every watched topic, and the node's channel, come back
//     after a reconnection, including those watched during the outage.
//   - It retries at once, without a delay, and reports each failure to
//     the reader. The reader waits between attempts (50 ms, doubling up
//     to MaxReconnectDelay) and logs the outage once, and its end once.
//   - It only notices a connection that fails. A connection that goes
//     silent (a frozen server, a dropped route) is found by the reader:
//     after HealthCheckInterval without traffic it pings, and without an
//     answer within another interval it replaces the PubSub by a new one
//     subscribed to the same channels.

// subConn is the subscription connection: a go-redis PubSub and the
// channels it must be subscribed to.
type subConn struct {
	client *goredis.Client

	mu       sync.Mutex // Protects the following. Held during go-redis calls that write.
	ps       *goredis.PubSub
	channels map[string]struct{} // The node's channel and its watched topics'.
	closed   bool
}

func (s *subConn) init(client *goredis.Client, ps *goredis.PubSub, nodeCh string) {
	s.client, s.ps = client, ps
	s.channels = map[string]struct{}{nodeCh: {}}
}

// current returns the PubSub to read from.
func (s *subConn) current() *goredis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

// apply subscribes to sub and unsubscribes from unsub. An error means the
// connection is broken: go-redis then restores the subscriptions it
// keeps, which include sub and exclude unsub, when it connects again.
func (s *subConn) apply(ctx context.Context, sub, unsub []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	for _, ch := range sub {
		s.channels[ch] = struct{}{}
	}
	for _, ch := range unsub {
		delete(s.channels, ch)
	}
	var err error
	if len(sub) > 0 {
		err = s.ps.Subscribe(ctx, sub...)
	}
	if len(unsub) > 0 {
		err = errors.Join(err, s.ps.Unsubscribe(ctx, unsub...))
	}
	return err
}

// replace swaps the PubSub for a new one subscribed to the same channels,
// for a connection that went silent.
func (s *subConn) replace(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	old := s.ps
	s.ps = s.client.Subscribe(ctx, slices.Collect(maps.Keys(s.channels))...)
	_ = old.Close()
}

func (s *subConn) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		_ = s.ps.Close()
	}
}

// readLoop is the receiving goroutine: it hands the messages for this
// node to recv, in the order Redis sends them, and keeps the subscription
// connection alive, until Close.
func (a *Adapter) readLoop() {
	defer a.wg.Done()
	var (
		pinged    bool      // A PING is unanswered.
		lostSince time.Time // Zero while connected.
		delay     = minReconnectDelay
		refused   rateLimit
		invalid   rateLimit
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		ps := a.sub.current()
		msg, err := ps.ReceiveTimeout(a.ctx, a.opts.HealthCheckInterval)
		if a.ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged, delay = false, minReconnectDelay
			if !lostSince.IsZero() {
				a.stats.reconnects.Add(1)
				a.log.Info("redis subscription connection restored", "down_since", lostSince,
					"duration", time.Since(lostSince).Round(time.Millisecond))
				lostSince = time.Time{}
			}
			if m, ok := msg.(*goredis.Message); ok {
				a.handle(m, &invalid)
			}
			continue
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			if !pinged {
				pinged = true
				if err = ps.Ping(a.ctx); err == nil {
					continue
				}
			} else {
				err = fmt.Errorf("no answer to PING within %v", a.opts.HealthCheckInterval)
				ctx, cancel := context.WithTimeout(a.ctx, a.opts.PublishTimeout)
				a.sub.replace(ctx)
				cancel()
			}
		}
		pinged = false
		_, isReply := errors.AsType[goredis.Error](err)
		switch {
		case isReply && lostSince.IsZero():
			// An error reply on a working connection (say, a channel
			// the ACL forbids).
			if refused.allow() {
				a.log.Warn("redis refused a subscription command", "err", err)
			}
		case lostSince.IsZero():
			lostSince = time.Now()
			a.log.Warn("redis subscription connection lost, reconnecting", "err", err)
		default:
			a.log.Debug("redis subscription connection still down", "err", err, "retry_in", delay)
		}
		timer.Reset(delay)
		select {
		case <-timer.C:
		case <-a.ctx.Done():
			return
		}
		delay = min(delay*2, a.opts.MaxReconnectDelay)
	}
}

// handle decodes m and hands it to recv if it is for this node: a direct
// broadcast to it, or a broadcast of a topic it watches, from another
// node.
func (a *Adapter) handle(m *goredis.Message, invalid *rateLimit) {
	e, err := a.decode([]byte(m.Payload))
	switch {
	case errors.Is(err, ErrSkip):
		return
	case err == nil && e.Origin == "":
		err = fmt.Errorf("%w: empty origin", ErrInvalidMessage)
	}
	if err != nil {
		n := a.stats.invalid.Add(1)
		if invalid.allow() {
			a.log.Warn("redis message cannot be decoded, dropped", "channel", m.Channel, "err", err, "invalid", n)
		}
		return
	}
	if e.To != "" {
		if e.To != a.node {
			return
		}
	} else if !a.watch.watching(e.Topic) {
		return
	}
	if e.Origin == a.node {
		return // Our own broadcast, back from a channel we subscribe to.
	}
	a.stats.received.Add(1)
	a.recv(&pubsub.Message{Topic: e.Topic, Event: e.Event, Payload: e.Payload, Origin: e.Origin})
}

// decode runs the codec, turning a panic (a codec's bug) into an error
// rather than letting it end the process.
func (a *Adapter) decode(data []byte) (e Envelope, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = Envelope{}, fmt.Errorf("%w: the codec panicked: %v", ErrInvalidMessage, r)
		}
	}()
	return a.codec.Decode(data)
}

// rateLimit allows one log line a minute for a kind of problem that may
// repeat with every message: a stranger publishing garbage on our
// channels must not flood the log.
type rateLimit struct {
	last time.Time
}

const rateLimitEvery = time.Minute

func (l *rateLimit) allow() bool {
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < rateLimitEvery {
		return false
	}
	l.last = now
	return true
}

// watches holds the topics this node watches, as the PubSub said, and
// the Watch and Unwatch calls not applied at Redis yet.
type watches struct {
	ready chan struct{} // One slot: ops has work.

	mu     sync.Mutex // Protects the following. Taken under a PubSub's lock.
	topics map[string]struct{}
	ops    []watchOp
}

type watchOp struct {
	topic string
	on    bool
}

func (w *watches) init() {
	w.ready = make(chan struct{}, 1)
	w.topics = make(map[string]struct{})
}

// set records a Watch (on) or an Unwatch of topic. It never waits.
func (w *watches) set(topic string, on bool) {
	w.mu.Lock()
	if on {
		w.topics[topic] = struct{}{}
	} else {
		delete(w.topics, topic)
	}
	w.ops = append(w.ops, watchOp{topic, on})
	w.mu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

func (w *watches) watching(topic string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.topics[topic]
	return ok
}

func (w *watches) take() []watchOp {
	w.mu.Lock()
	defer w.mu.Unlock()
	ops := w.ops
	w.ops = nil
	return ops
}

// applyLoop is the goroutine that applies Watch and Unwatch at Redis, in
// order: a batch of calls becomes at most one SUBSCRIBE and one
// UNSUBSCRIBE, of the channels whose need changed.
func (a *Adapter) applyLoop() {
	defer a.wg.Done()
	refs := make(map[string]int)                  // Watched topics per channel.
	subscribed := map[string]bool{a.nodeCh: true} // As told to go-redis.
	for {
		select {
		case <-a.watch.ready:
		case <-a.ctx.Done():
			return
		}
		var touched []string
		for _, op := range a.watch.take() {
			ch := a.codec.TopicChannel(op.topic)
			switch {
			case op.on:
				refs[ch]++
			case refs[ch] > 1:
				refs[ch]--
			default:
				delete(refs, ch)
			}
			touched = append(touched, ch)
		}
		var sub, unsub []string
		for _, ch := range touched {
			want := refs[ch] > 0 || ch == a.nodeCh
			switch {
			case want && !subscribed[ch]:
				sub = append(sub, ch)
				subscribed[ch] = true
			case !want && subscribed[ch]:
				unsub = append(unsub, ch)
				delete(subscribed, ch)
			}
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.PublishTimeout)
		if err := a.sub.apply(ctx, sub, unsub); err != nil && a.ctx.Err() == nil {
			a.log.Debug("redis subscription change deferred to the reconnection", "err", err)
		}
		cancel()
	}
}
