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

// Bounds of one pipelined batch of PUBLISH commands: enough to amortize a
// round trip, small enough that PublishTimeout fits a slow link. A single
// larger message makes a batch of its own.
const (
	maxBatchLen   = 256
	maxBatchBytes = 1 << 20
)

// outItem is one message waiting to be published.
type outItem struct {
	channel string
	data    []byte
	result  chan error // Direct broadcasts only: gets the outcome, once. Buffered.
}

// resolve reports the outcome of it to its DirectBroadcast, if any.
func (it *outItem) resolve(err error) {
	if it.result != nil {
		it.result <- err
	}
}

// outbox is the bounded FIFO of messages to publish: pushed by the
// broadcasting goroutines, without waiting, and drained by the publisher.
type outbox struct {
	maxLen, maxBytes int
	ready            chan struct{} // One slot: something was pushed.

	mu     sync.Mutex // Protects the following.
	items  []outItem
	bytes  int
	closed bool
}

type pushResult int8

const (
	pushed pushResult = iota
	pushFull
	pushClosed
)

func (o *outbox) init(maxLen, maxBytes int) {
	o.maxLen, o.maxBytes = maxLen, maxBytes
	o.ready = make(chan struct{}, 1)
}

// push queues it unless the outbox is closed or full. It never waits.
func (o *outbox) push(it outItem) pushResult {
	o.mu.Lock()
	switch {
	case o.closed:
		o.mu.Unlock()
		return pushClosed
	case len(o.items) >= o.maxLen || (len(o.items) > 0 && o.bytes+len(it.data) > o.maxBytes):
		// An empty queue takes any message, so that one larger than
		// maxBytes is published rather than always dropped.
		o.mu.Unlock()
		return pushFull
	}
	o.items = append(o.items, it)
	o.bytes += len(it.data)
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return pushed
}

// take appends to batch the oldest items, at most maxBatchLen of them and
// maxBatchBytes (but at least one), removes them and returns batch.
func (o *outbox) take(batch []outItem) []outItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, size := 0, 0
	for n < len(o.items) && n < maxBatchLen && (n == 0 || size+len(o.items[n].data) <= maxBatchBytes) {
		size += len(o.items[n].data)
		n++
	}
	batch = append(batch, o.items[:n]...)
	clear(o.items[:n])
	o.items = o.items[n:]
	if len(o.items) == 0 {
		o.items = o.items[:0:0] // Let the backing array go.
	}
	o.bytes -= size
	return batch
}

// close makes later pushes fail; queued items stay for the publisher.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
}

// discard drops every queued item, resolving direct broadcasts with err,
// and returns how many it dropped.
func (o *outbox) discard(err error) int {
	items := o.take(nil)
	n := 0
	for len(items) > 0 {
		for i := range items {
			items[i].resolve(err)
		}
		n += len(items)
		items = o.take(items[:0])
	}
	return n
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

// publishLoop is the publisher goroutine: it publishes the queued
// messages in order, in pipelined batches, until Close. When Redis cannot
// be reached it drops what is queued and probes Redis until it answers.
func (a *Adapter) publishLoop() {
	defer a.wg.Done()
	defer close(a.pubDone)
	var batch []outItem
	var cmds []*goredis.IntCmd
	clean := true // The last attempt published everything.
	for {
		batch = a.out.take(batch[:0])
		if len(batch) == 0 {
			if clean {
				a.episode.end(&a.stats)
			}
			select {
			case <-a.out.ready:
				continue
			case <-a.closing:
				if a.out.len() == 0 {
					return
				}
				continue
			}
		}
		if a.ctx.Err() != nil || a.down.Load() {
			a.dropBatch(batch)
			continue
		}
		var err error
		cmds, clean, err = a.publish(batch, cmds[:0])
		clear(batch)
		if err != nil {
			a.down.Store(true)
			a.probe()
			clean = !a.down.Load()
		}
	}
}

// publish sends batch in one pipeline and reports each direct
// broadcast's outcome. It returns whether every message was published,
// and the connection error that kept some from it, if any.
func (a *Adapter) publish(batch []outItem, cmds []*goredis.IntCmd) (_ []*goredis.IntCmd, clean bool, connErr error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.PublishTimeout)
	defer cancel()
	pipe := a.client.Pipeline()
	for _, it := range batch {
		cmds = append(cmds, pipe.Publish(ctx, it.channel, it.data))
	}
	_, _ = pipe.Exec(ctx)         // Each command has its own error.
	closing := a.ctx.Err() != nil // Close gave up waiting: not an outage.
	var failed int
	var replyErr error
	for i := range batch {
		receivers, err := cmds[i].Result()
		switch {
		case err == nil && receivers == 0:
			batch[i].resolve(pubsub.ErrUnknownNode)
		case err == nil:
			batch[i].resolve(nil)
		case closing:
			failed++
			batch[i].resolve(pubsub.ErrClosed)
		default:
			failed++
			if _, ok := errors.AsType[goredis.Error](err); ok {
				replyErr = err
			} else {
				connErr = err
			}
			batch[i].resolve(fmt.Errorf("%w: %w", ErrUnavailable, err))
		}
	}
	clear(cmds)
	a.stats.published.Add(uint64(len(batch) - failed))
	switch {
	case closing:
		a.stats.dropped.Add(uint64(failed))
	case connErr != nil:
		a.dropped(failed, dropUnreachable, connErr)
	case failed > 0:
		a.dropped(failed, dropRefused, replyErr)
	}
	return cmds, failed == 0, connErr
}

// dropBatch drops batch, when Close gave up waiting or Redis is
// unreachable, and tells its direct broadcasts why.
func (a *Adapter) dropBatch(batch []outItem) {
	err := pubsub.ErrClosed
	if a.ctx.Err() == nil {
		err = fmt.Errorf("%w: redis unreachable", ErrUnavailable)
	}
	for i := range batch {
		batch[i].resolve(err)
	}
	if a.ctx.Err() != nil {
		a.stats.dropped.Add(uint64(len(batch)))
	} else {
		a.dropped(len(batch), dropUnreachable, nil)
	}
	clear(batch)
}

// probe runs while Redis is unreachable for publishing: it drops what is
// queued and pings Redis, with a growing delay, until Redis answers (and
// clears a.down) or the adapter closes.
func (a *Adapter) probe() {
	delay := minReconnectDelay
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		if n := a.out.discard(fmt.Errorf("%w: redis unreachable", ErrUnavailable)); n > 0 {
			a.dropped(n, dropUnreachable, nil)
		}
		select {
		case <-timer.C:
		case <-a.closing:
			return
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.PublishTimeout)
		err := a.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			a.down.Store(false)
			return
		}
		a.log.Debug("redis still unreachable", "err", err, "retry_in", delay)
		delay = min(delay*2, a.opts.MaxReconnectDelay)
		timer.Reset(delay)
	}
}

// Why messages are dropped; each names the log line of an episode.
type dropReason int8

const (
	dropUnreachable dropReason = iota
	dropQueueFull
	dropRefused
)

var dropMessages = [...]string{
	dropUnreachable: "redis unreachable: broadcasts dropped",
	dropQueueFull:   "redis publish queue full: broadcasts dropped",
	dropRefused:     "redis refused to publish: broadcasts dropped",
}

// episode is a run of dropped messages, from the first drop to the moment
// the publisher has published everything queued again. It is logged
// twice: when it starts, and with a summary when it ends.
type episode struct {
	log    *slog.Logger
	active atomic.Bool // Read without mu on the hot path.

	mu    sync.Mutex // Protects the following, and changes of active.
	since time.Time
	base  uint64 // The dropped counter when the episode started.
}

// dropped counts n dropped messages, and starts an episode (one log line)
// if none is in progress.
func (a *Adapter) dropped(n int, why dropReason, err error) {
	total := a.stats.dropped.Add(uint64(n))
	e := &a.episode
	if n == 0 || e.active.Load() {
		return
	}
	e.mu.Lock()
	if e.active.Load() {
		e.mu.Unlock()
		return
	}
	e.active.Store(true)
	e.since, e.base = time.Now(), total-uint64(n)
	e.mu.Unlock()
	attrs := []any{"dropped", n, "since", e.since, "queued", a.out.len()}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	e.log.Warn(dropMessages[why], attrs...)
}

// end ends the episode in progress, if any, with a summary line.
func (e *episode) end(c *counters) {
	if !e.active.Load() {
		return
	}
	e.mu.Lock()
	if !e.active.Load() {
		e.mu.Unlock()
		return
	}
	e.active.Store(false)
	n, since := c.dropped.Load()-e.base, e.since
	e.mu.Unlock()
	e.log.Info("redis publishing resumed", "dropped", n, "since", since, "duration", time.Since(since).Round(time.Millisecond))
}
