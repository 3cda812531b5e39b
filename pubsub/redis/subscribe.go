package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/internal/readyset"
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
//   - A SUBSCRIBE that fails on a broken connection makes go-redis dial
//     again inside that call, and subscribe the new connection to the set
//     it had before the call: without the call's channels, which it adds
//     to the set only afterwards. The adapter subscribes to them again.
//   - It does not say when a subscription has taken effect. After the
//     SUBSCRIBE of a batch of watches, the adapter sends a PING whose
//     payload numbers the batch, on the same connection: Redis answers in
//     order, so when the reader gets that PONG, every command of the
//     batch has been processed, and the watches' ready channels
//     ([pubsub.Adapter.Watch]) are closed. This holds whatever the
//     SUBSCRIBE and UNSUBSCRIBE commands of a topic before it, and for
//     channels shared by several topics or already subscribed. When the
//     connection is lost, every ready channel is closed at once (the
//     watches take effect when go-redis subscribes again), and while it
//     is down, or the publisher finds Redis unreachable, Watch returns no
//     channel to wait for.

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
		if err = s.ps.Subscribe(ctx, sub...); err != nil && ctx.Err() == nil {
			// go-redis may have connected again inside the failed call,
			// without sub (see above). On a connection still broken this
			// fails as well, and the reconnection restores sub.
			err = s.ps.Subscribe(ctx, sub...)
		}
	}
	if len(unsub) > 0 {
		err = errors.Join(err, s.ps.Unsubscribe(ctx, unsub...))
	}
	return err
}

// ping sends a PING with payload on the subscription connection; the
// reader gets its PONG after the answers to the commands sent before.
func (s *subConn) ping(ctx context.Context, payload string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return pubsub.ErrClosed
	}
	return s.ps.Ping(ctx, payload)
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
				a.subLost.Store(false)
				a.stats.reconnects.Add(1)
				a.log.Info("redis subscription connection restored", "down_since", lostSince,
					"duration", time.Since(lostSince).Round(time.Millisecond))
				lostSince = time.Time{}
			}
			switch m := msg.(type) {
			case *goredis.Message:
				a.handle(m, &invalid)
			case *goredis.Pong:
				a.ready.pong(m.Payload)
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
		if !isReply || !lostSince.IsZero() {
			// The connection is lost: nobody waits for the watches
			// meanwhile; go-redis subscribes again when it connects.
			a.subLost.Store(true)
			a.ready.ReleaseAll()
		}
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
	wake chan struct{} // One slot: ops has work.

	mu     sync.Mutex // Protects the following. Taken under a PubSub's lock.
	topics map[string]struct{}
	ops    []watchOp
}

type watchOp struct {
	topic string
	on    bool
	ready chan struct{} // A Watch's ready channel, or nil.
}

func (w *watches) init() {
	w.wake = make(chan struct{}, 1)
	w.topics = make(map[string]struct{})
}

// set records a Watch (on) or an Unwatch of topic, with the Watch's ready
// channel, if any. It never waits.
func (w *watches) set(topic string, on bool, ready chan struct{}) {
	w.mu.Lock()
	if on {
		w.topics[topic] = struct{}{}
	} else {
		delete(w.topics, topic)
	}
	w.ops = append(w.ops, watchOp{topic, on, ready})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
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
		case <-a.watch.wake:
		case <-a.ctx.Done():
			return
		}
		var touched []string
		var readies []chan struct{}
		for _, op := range a.watch.take() {
			if op.ready != nil {
				readies = append(readies, op.ready)
			}
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
		err := a.sub.apply(ctx, sub, unsub)
		if err == nil && len(readies) > 0 {
			// The PONG of this PING confirms the batch (see above).
			if token := a.ready.sent(readies); token != 0 {
				err = a.sub.ping(ctx, readyPayload(token))
			}
		}
		cancel()
		if err != nil {
			// The connection is broken: the watches take effect when
			// go-redis connects again, nobody waits for them meanwhile.
			a.ready.Release(readies...)
			if a.ctx.Err() == nil {
				a.log.Debug("redis subscription change deferred to the reconnection", "err", err)
			}
		}
	}
}

// readyPrefix starts the payload of the PINGs that confirm watches,
// followed by the batch's number.
const readyPrefix = "pyre:ready:"

func readyPayload(token uint64) string {
	return readyPrefix + strconv.FormatUint(token, 10)
}

// readiness holds the ready channels of the watches not confirmed yet:
// those queued for the apply goroutine, and those sent, marked with the
// number of the PING that follows their batch. Each is closed once, by
// whoever comes first: the PONG, a lost connection, or Close.
type readiness struct {
	readyset.Set
	last atomic.Uint64 // The number of the last PING.
}

// sent marks the channels of readies still open with a new PING number
// and returns it, or 0 when none is open (released meanwhile).
func (r *readiness) sent(readies []chan struct{}) uint64 {
	n := r.last.Add(1)
	if !r.Mark(n, readies...) {
		return 0
	}
	return n
}

// pong closes the channels confirmed by a PONG with payload: those of its
// PING and of the PINGs before. Other PONGs (the health check's) do
// nothing.
func (r *readiness) pong(payload string) {
	num, ok := strings.CutPrefix(payload, readyPrefix)
	if !ok {
		return
	}
	token, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return
	}
	for _, c := range r.Take(token) {
		close(c)
	}
}
