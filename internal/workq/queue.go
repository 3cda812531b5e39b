package workq

import (
	"sync"
	"time"
)

// Options configure a [Queue]. The zero value, or a nil *Options, means: no
// bound, not paused, no linger, no Drained callback. [New] copies what it
// needs, so the caller may reuse or change the Options afterwards.
type Options[T any] struct {
	// Linger keeps the queue's goroutine, once started, parked while the
	// queue is empty, instead of ending and being started again by the
	// next Push, until Close. A wake-up saves a goroutine start, and the
	// regrowth of its stack when fn calls deep (a connection's writer), for
	// queues that fill and empty all the time; it costs a parked goroutine
	// (a few KiB) per queue, and
	// [Group.Wait] does not return until the queue is closed.
	// Default: false, the goroutine ends when the queue is empty.
	Linger bool
	// LingerBusy keeps the goroutine of a busy queue parked for up to
	// LingerBusy after the queue empties: a queue that had emptied less
	// than LingerBusy before, too (a channel answering a client's pushes
	// one after the other). The next Push within that time wakes it, with
	// no goroutine start and no regrowth of its stack, about a
	// microsecond less per item; a queue that empties less often ends its
	// goroutine at once, as without it, for the cost of reading the
	// clock. Ignored with Linger.
	// Default: zero, no lingering.
	LingerBusy time.Duration
	// Limit bounds the total Cost of the items waiting (pushed and not yet
	// handed to fn). A Push that would pass it returns [ErrFull], except
	// into an empty queue: one item larger than the Limit is accepted
	// alone, so an oversized item is never refused for ever.
	// Default: zero, no bound.
	Limit int
	// Cost returns the cost of an item, such as its size in bytes; it must
	// not be negative. Push calls it before taking the queue's lock, from
	// the pushing goroutine, so it must be safe for concurrent use.
	// Default: nil, each item costs 1 (Limit is then a count).
	Cost func(T) int
	// Paused makes the queue keep its items and start no goroutine until
	// [Queue.Resume]. Push still applies Limit.
	// Default: false, the queue runs as soon as it is made.
	Paused bool
	// Drained, if set, runs once on the queue's goroutine after Close, when
	// every item has been handed over (after Resume if the queue is
	// paused). The goroutine is started for it if none is running. It does
	// not run if the queue is closed while paused and never resumed, nor if
	// the Group refuses to start the goroutine it needs.
	// Default: nil, nothing runs.
	Drained func()
}

// Queue hands the items pushed from any goroutine to a function, in push
// order, on at most one goroutine at a time. That goroutine is owned by
// the queue's [Group] and is started while items wait (see [Options.Linger]
// for keeping it).
//
// All methods may be called concurrently, from any goroutine, including
// from fn and Drained. A Queue must be made with [New].
type Queue[T any] struct {
	// Set by New, read-only afterwards.
	g       *Group
	fn      func([]T)
	cost    func(T) int
	drained func()
	limit   int
	linger  bool
	busy    time.Duration // LingerBusy.
	run     func()        // q.loop, bound once so that starting it allocates nothing.

	mu          sync.Mutex    // Protects following.
	pending     []T           // Waiting items, oldest first.
	spare       []T           // Empty buffer to swap with pending; nil while fn holds it.
	pendingCost int           // Total cost of pending.
	running     bool          // A goroutine is started (in fn, in Drained, or parked).
	parked      bool          // The lingering goroutine waits on wake.
	wake        chan struct{} // 1-buffered, made before the first park. One send per park.
	emptied     time.Duration // When the goroutine last found the queue empty (LingerBusy), since clockBase.
	paused      bool
	closed      bool
	drainedRun  bool // Drained has started (or is not set).
}

// New returns a queue whose goroutines belong to g. g and fn must not be
// nil; opts may be.
//
// fn receives every item queued when the goroutine looks, oldest first, as
// one batch. The slice is reused once fn returns, so fn must not keep it
// (copy what it needs). fn runs without any lock of the queue held, so it
// may call Push, Close and Clear on this or any other queue. Items pushed
// while fn runs go into a later batch. The queue keeps two buffers, each
// as large as the largest batch so far, for as long as it is reachable.
//
// A panic in fn (or in Drained) is not recovered by the queue: it
// crashes the program like any goroutine's panic. Callers that must
// survive one recover inside fn.
func New[T any](g *Group, fn func(batch []T), opts *Options[T]) *Queue[T] {
	if g == nil || fn == nil {
		panic("workq: New with a nil Group or fn")
	}
	q := &Queue[T]{g: g, fn: fn}
	if opts != nil {
		q.cost = opts.Cost
		q.drained = opts.Drained
		q.limit = opts.Limit
		q.linger = opts.Linger
		q.busy = opts.LingerBusy
		q.paused = opts.Paused
	}
	q.drainedRun = q.drained == nil
	q.run = q.loop
	return q
}

// Push queues v and starts the queue's goroutine if none is running, or
// wakes the parked one. It returns nil, [ErrClosed] after Close, or
// [ErrFull] when v would take the waiting items past [Options.Limit]. If
// the Group refuses to start the goroutine, v is not queued and Push
// returns ErrClosed. Push never blocks beyond the queue's mutex, and
// allocates nothing once the queue's buffers have grown.
func (q *Queue[T]) Push(v T) error {
	c := 1
	if q.cost != nil {
		c = q.cost(v)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.limit > 0 && len(q.pending) > 0 && q.pendingCost+c > q.limit {
		q.mu.Unlock()
		return ErrFull
	}
	start := false
	var wake chan struct{}
	if !q.paused {
		if !q.running {
			if !q.g.add() {
				q.mu.Unlock()
				return ErrClosed
			}
			q.running, start = true, true
		} else if q.parked {
			q.parked, wake = false, q.wake
		}
	}
	q.pending = append(q.pending, v)
	q.pendingCost += c
	q.mu.Unlock()
	if start {
		go q.run()
	} else if wake != nil {
		wake <- struct{}{} // Never blocks: one send per park.
	}
	return nil
}

// Resume lets a queue made with [Options.Paused] run: the goroutine starts
// if items wait, or if the queue was closed and Drained has yet to run. It
// does nothing on a queue that is not paused. If the Group refuses the
// goroutine, the items stay queued and the next Push tries again.
func (q *Queue[T]) Resume() {
	q.mu.Lock()
	if !q.paused {
		q.mu.Unlock()
		return
	}
	q.paused = false
	start := q.startLocked(len(q.pending) > 0 || (q.closed && !q.drainedRun))
	q.mu.Unlock()
	if start {
		go q.run()
	}
}

// Close makes Push fail with [ErrClosed] from now on. Items already queued
// are still handed to fn unless [Queue.Clear] removes them; then Drained
// runs, and a lingering goroutine ends. Close does not wait for any of
// this: use [Group.Wait]. Close is idempotent.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	start := false
	var wake chan struct{}
	if !q.paused {
		if q.running {
			if q.parked {
				q.parked, wake = false, q.wake
			}
		} else {
			// Not running and not paused: nothing waits, only Drained.
			start = q.startLocked(!q.drainedRun)
		}
	}
	q.mu.Unlock()
	if start {
		go q.run()
	} else if wake != nil {
		wake <- struct{}{}
	}
}

// startLocked reports whether the caller must start the goroutine: need is
// true, none is running and the Group accepts it. q.mu must be held.
func (q *Queue[T]) startLocked(need bool) bool {
	if !need || q.running || !q.g.add() {
		return false
	}
	q.running = true
	return true
}

// Clear removes and returns the items waiting (not yet handed to fn),
// oldest first, or nil if there are none; their cost no longer counts.
// Items in the batch fn is handling are not affected.
func (q *Queue[T]) Clear() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.pending
	if len(items) == 0 {
		return nil
	}
	q.pending = nil // The caller owns the buffer now.
	q.pendingCost = 0
	return items
}

// Len reports how many items wait (pushed and not yet handed to fn).
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Cost reports the total cost of the items waiting: items handed to fn no
// longer count.
func (q *Queue[T]) Cost() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pendingCost
}

// loop is the queue's goroutine. It hands batches to fn while items wait,
// then runs Drained if the queue is closed, then parks (Linger) or ends.
// Only one loop runs per queue: running is set by whoever starts it and
// cleared by loop, under q.mu, when it ends.
func (q *Queue[T]) loop() {
	defer q.g.done()
	var timer *time.Timer // LingerBusy's, made at the first park.
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	q.mu.Lock()
	for {
		if len(q.pending) > 0 {
			batch := q.pending
			q.pending, q.spare = q.spare[:0], nil
			q.pendingCost = 0
			q.mu.Unlock()
			q.fn(batch)
			clear(batch) // Retain nothing fn was given.
			q.mu.Lock()
			q.spare = batch[:0]
			continue
		}
		if q.closed && !q.drainedRun {
			q.drainedRun = true
			q.mu.Unlock()
			q.drained()
			q.mu.Lock()
			continue
		}
		if q.linger && !q.closed {
			q.parkLocked()
			<-q.wake
			q.mu.Lock()
			continue
		}
		if q.busy > 0 && !q.closed && q.wasBusyLocked() {
			wake := q.parkLocked()
			if timer == nil {
				timer = time.NewTimer(q.busy)
			} else {
				timer.Reset(q.busy)
			}
			select {
			case <-wake:
				q.mu.Lock()
				continue
			case <-timer.C:
			}
			q.mu.Lock()
			if !q.parked {
				// Woken as the time ran out: take the wake-up sent.
				q.mu.Unlock()
				<-wake
				q.mu.Lock()
				continue
			}
			q.parked = false
		}
		// Empty, checked under the lock: the next Push starts a new loop.
		q.running = false
		q.mu.Unlock()
		return
	}
}

// parkLocked marks the goroutine parked and unlocks q.mu; it returns the
// channel a Push or Close wakes it on. q.mu is held.
func (q *Queue[T]) parkLocked() chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	q.parked = true
	q.mu.Unlock()
	return q.wake
}

// clockBase is the origin of the monotonic times kept by queues.
var clockBase = time.Now()

// wasBusyLocked notes that the goroutine found the queue empty, and
// reports whether the previous time was less than LingerBusy ago (the
// time spent parked counts as busy: a queue woken within LingerBusy stays
// busy). q.mu is held.
func (q *Queue[T]) wasBusyLocked() bool {
	now := time.Since(clockBase)
	busy := q.emptied != 0 && now-q.emptied < q.busy // 0: never emptied.
	q.emptied = now
	return busy
}
