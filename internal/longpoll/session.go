// Package longpoll is the session state behind Phoenix's long-poll
// transport: a byte-bounded buffer of outbound frames taken by polls,
// inbound frames handed to a handler in order, an inactivity timeout, and
// the signed session tokens. Package socket does the HTTP.
package longpoll

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// Defaults of [Options].
const (
	DefaultWindow     = 10 * time.Second
	DefaultQueueBytes = 1 << 20
)

// Errors of [Session.Dispatch].
var (
	// ErrSessionClosed: the session has ended.
	ErrSessionClosed = errors.New("longpoll: session closed")
	// ErrAckTimeout: the session did not handle the frame within the poll
	// window (Phoenix answers the publish with status 408).
	ErrAckTimeout = errors.New("longpoll: session did not acknowledge in time")
)

// Options configures one session.
type Options struct {
	// Window is how long a poll waits for a frame before it is answered
	// with 204, and how long a publish waits for the session to handle
	// each frame. A session with no poll for 1.5 windows ends with
	// CloseInactive. Zero means 10 s (Phoenix's window_ms).
	Window time.Duration

	// QueueBytes bounds the frames buffered between polls, in bytes. A
	// send that would pass it ends the session with CloseSlowConsumer.
	// Zero means 1 MiB.
	QueueBytes int

	// Logger receives the session's log lines. nil means slog.Default().
	Logger *slog.Logger

	// Group owns the session's goroutines. Required.
	Group *workq.Group
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// PollStatus is the outcome of [Session.Poll], with the status code the
// long-poll protocol reports for it.
type PollStatus int

// The outcomes of a poll.
const (
	PollMessages PollStatus = 200 // Frames are returned.
	PollEmpty    PollStatus = 204 // The window passed, or a newer poll took over.
	PollGone     PollStatus = 410 // The session has ended and nothing is left to send.
)

// Session is one long-poll session: Phoenix's LongPoll.Server. Outbound
// frames wait in a byte-bounded buffer until a poll takes them all;
// inbound frames, from publish requests, are handed to the Handler one at
// a time and in order. It holds no goroutine while idle: a poll or a
// publish runs in its request's goroutine, the handler in a goroutine
// started while frames wait for it, and the inactivity check on a timer.
//
// Every method may be called from any goroutine. Send and Close never
// block.
type Session struct {
	opts    Options
	h       Handler
	onClose func(transport.CloseReason)
	in      *workq.Queue[inbound]

	mu       sync.Mutex  // Protects the following.
	expiry   *time.Timer // The inactivity check.
	out      [][]byte    // Text frames, oldest first.
	outBytes int
	waiter   *waiter // The poll in flight, if any.
	polls    int     // Polls in flight.
	lastPoll time.Time
	closed   *transport.CloseReason
}

// Handler is called for every inbound frame, in order. data is handed
// over. A non-nil reason ends the session with it.
type Handler func(data []byte, binary bool) *transport.CloseReason

// waiter is the poll in flight. Its fields are protected by Session.mu.
type waiter struct {
	wake     chan struct{} // Closed to end the wait.
	deadline time.Time     // The end of the window.
	replaced bool          // A newer poll took over.
	done     bool          // finish has run.
	fire     func()        // For a parked poll: finishes it and delivers.
	timer    *time.Timer   // For a parked poll: the window.
}

type inbound struct {
	data   []byte
	binary bool
	done   chan error // Buffered; gets nil once handled, or why not.
}

// New starts a session whose inbound frames go to h. onClose is called
// once, in a goroutine of the Group, when the session ends for any reason
// (Close, inactivity, an overflow, a Handler that returned a reason).
func New(opts *Options, h Handler, onClose func(transport.CloseReason)) *Session {
	p := &Session{opts: opts.withDefaults(), h: h, onClose: onClose, lastPoll: time.Now()}
	p.in = workq.New(p.opts.Group, p.dispatch, nil)
	p.mu.Lock()
	p.expiry = time.AfterFunc(p.inactiveAfter(), p.checkInactive)
	p.mu.Unlock()
	return p
}

func (p *Session) inactiveAfter() time.Duration { return p.opts.Window * 3 / 2 }

// checkInactive ends the session when no poll was in flight or ended
// within 1.5 windows, as Phoenix's :shutdown_if_inactive does.
func (p *Session) checkInactive() {
	p.mu.Lock()
	idle := p.polls == 0 && time.Since(p.lastPoll) > p.inactiveAfter()
	if !idle && p.closed == nil {
		p.expiry.Reset(p.inactiveAfter())
	}
	p.mu.Unlock()
	if idle {
		p.Close(transport.CloseInactive)
	}
}

// SendBatch is Send: a long-poll frame waits for the next poll anyway,
// so a fan-out's batch has nothing to write for it.
func (p *Session) SendBatch(f protocol.Frame, _ *sendbatch.Batch) bool { return p.Send(f) }

// Send buffers f for the next poll, waking the poll in flight. It reports
// false when the session has ended, or when f would overflow the buffer,
// which ends the session with CloseSlowConsumer. Long-poll carries text
// only (docs/protocol.md, "Text or binary"): a binary frame is dropped with a warning.
func (p *Session) Send(f protocol.Frame) bool {
	if f.Binary {
		p.opts.Logger.Warn("dropping binary frame: long-poll carries text frames only", "bytes", len(f.Data))
		return true
	}
	p.mu.Lock()
	if p.closed != nil {
		p.mu.Unlock()
		return false
	}
	if p.outBytes+len(f.Data) > p.opts.QueueBytes && p.outBytes > 0 {
		p.mu.Unlock()
		p.SlowConsumer()
		return false
	}
	p.out = append(p.out, f.Data)
	p.outBytes += len(f.Data)
	p.wakeLocked()
	p.mu.Unlock()
	return true
}

// wakeLocked ends the wait of the poll in flight. p.mu must be held.
func (p *Session) wakeLocked() {
	if w := p.waiter; w != nil {
		close(w.wake)
		p.waiter = nil
		if w.fire != nil {
			p.opts.Group.Go(w.fire)
		}
	}
}

// Close ends the session with reason. A poll in flight is answered with
// what is still buffered, and later frames are refused. Only the first
// reason counts.
func (p *Session) Close(reason transport.CloseReason) {
	p.mu.Lock()
	if p.closed != nil {
		p.mu.Unlock()
		return
	}
	p.closed = &reason
	p.wakeLocked()
	p.expiry.Stop()
	p.mu.Unlock()
	p.opts.Group.Go(func() { p.onClose(reason) })
}

// SlowConsumer ends the session as a frame that would overflow the
// buffer does ([transport.CloseSlowConsumer]): for frames held for it
// elsewhere (a joining channel's) that passed the bound.
func (p *Session) SlowConsumer() {
	p.opts.Logger.Warn("closing slow long-poll session", "queue_bytes", p.opts.QueueBytes)
	p.Close(transport.CloseSlowConsumer)
}

// Abort ends the session at once, as Close does, with CloseShutdown.
func (p *Session) Abort() { p.Close(transport.CloseShutdown) }

// Poll waits up to the window for frames and takes every buffered frame,
// oldest first. It returns at once when frames are buffered or the session
// has ended, and early, with PollEmpty, when ctx is done or a newer poll
// takes over. The hand-off is atomic: frames are taken only by a poll that
// returns them, so none is lost between polls.
func (p *Session) Poll(ctx context.Context) ([][]byte, PollStatus) {
	msgs, st, _ := p.PollOrPark(ctx, -1) // Never parks: no Waiter.
	return msgs, st
}

// PollOrPark is Poll that gives up waiting in the caller's goroutine after
// parkAfter (0: at once when nothing is buffered; negative: never): it
// then returns a non-nil *Waiter, the poll still in flight, which the
// caller must finish with [Waiter.Wait] or [Waiter.Park].
func (p *Session) PollOrPark(ctx context.Context, parkAfter time.Duration) ([][]byte, PollStatus, *Waiter) {
	p.mu.Lock()
	p.lastPoll = time.Now()
	if msgs, st, done := p.takeLocked(); done {
		p.mu.Unlock()
		return msgs, st, nil
	}
	if p.waiter != nil {
		p.waiter.replaced = true
		p.wakeLocked()
	}
	w := &waiter{wake: make(chan struct{}), deadline: time.Now().Add(p.opts.Window)}
	p.waiter = w
	p.polls++
	p.mu.Unlock()
	if parkAfter == 0 {
		return nil, 0, &Waiter{p: p, w: w}
	}
	if parkAfter > 0 && parkAfter < p.opts.Window {
		if !p.wait(ctx, w, time.Now().Add(parkAfter)) {
			return nil, 0, &Waiter{p: p, w: w}
		}
	} else {
		p.wait(ctx, w, w.deadline)
	}
	msgs, st := p.finish(w, ctx.Err() == nil)
	return msgs, st, nil
}

// wait blocks until w is woken, ctx is done or until; it reports false
// when until came first and comes before w's deadline.
func (p *Session) wait(ctx context.Context, w *waiter, until time.Time) bool {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-w.wake:
	case <-ctx.Done():
	case <-t.C:
		return !until.Before(w.deadline)
	}
	return true
}

// finish ends the poll w: it takes the buffered frames when the poll may
// still deliver them (alive, not replaced), else returns PollEmpty.
func (p *Session) finish(w *waiter, alive bool) ([][]byte, PollStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.done {
		return nil, PollEmpty
	}
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	p.polls--
	p.lastPoll = time.Now()
	if p.waiter == w {
		p.waiter = nil
	}
	if w.replaced || !alive {
		return nil, PollEmpty
	}
	if msgs, st, done := p.takeLocked(); done {
		return msgs, st
	}
	return nil, PollEmpty
}

// Waiter is a poll still in flight, returned by [Session.PollOrPark].
type Waiter struct {
	p *Session
	w *waiter
}

// Wait goes on waiting in the caller's goroutine, as Poll does.
func (wt *Waiter) Wait(ctx context.Context) ([][]byte, PollStatus) {
	wt.p.wait(ctx, wt.w, wt.w.deadline)
	return wt.p.finish(wt.w, ctx.Err() == nil)
}

// Park goes on waiting with no goroutine: deliver is called once, in a
// goroutine of the Group, with the poll's outcome, when a frame arrives,
// the session ends, a newer poll takes over or the window passes. alive
// is asked just before frames would be taken; when it reports false, the
// frames stay for the next poll and deliver gets PollEmpty.
func (wt *Waiter) Park(alive func() bool, deliver func([][]byte, PollStatus)) {
	p, w := wt.p, wt.w
	var once sync.Once // The timer and a wake-up may both fire.
	fire := func() {
		once.Do(func() { deliver(p.finish(w, alive())) })
	}
	p.mu.Lock()
	select {
	case <-w.wake: // Woken already.
		p.mu.Unlock()
		p.opts.Group.Go(fire)
		return
	default:
	}
	w.fire = fire
	w.timer = time.AfterFunc(time.Until(w.deadline), func() { p.opts.Group.Go(fire) })
	p.mu.Unlock()
}

// takeLocked takes the buffered frames, or reports that the session has
// ended; done is false when the poll has to wait. p.mu must be held.
func (p *Session) takeLocked() (msgs [][]byte, st PollStatus, done bool) {
	if len(p.out) > 0 {
		msgs = p.out
		p.out, p.outBytes = nil, 0
		return msgs, PollMessages, true
	}
	if p.closed != nil {
		return nil, PollGone, true
	}
	return nil, 0, false
}

// Closed reports whether the session has ended.
func (p *Session) Closed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed != nil
}

// Dispatch hands one inbound frame to the Handler, after the frames
// dispatched before it, and waits until the Handler has returned. It
// returns ErrSessionClosed when the session has ended or ends because of
// this frame (a Handler's close reason, or a text frame that is not
// UTF-8), and ErrAckTimeout when the Handler has not returned within the
// window; the frame is still handled later then.
func (p *Session) Dispatch(data []byte, binary bool) error {
	in := inbound{data: data, binary: binary, done: make(chan error, 1)}
	if p.Closed() || p.in.Push(in) != nil {
		return ErrSessionClosed
	}
	t := time.NewTimer(p.opts.Window)
	defer t.Stop()
	select {
	case err := <-in.done:
		return err
	case <-t.C:
		return ErrAckTimeout
	}
}

// dispatch hands queued inbound frames to the Handler, in order; frames
// queued after the session ended are refused.
func (p *Session) dispatch(batch []inbound) {
	for _, in := range batch {
		if p.Closed() {
			in.done <- ErrSessionClosed
			continue
		}
		var reason *transport.CloseReason
		if !in.binary && !utf8.Valid(in.data) {
			reason = &transport.CloseInvalidUTF8
		} else {
			reason = p.h(in.data, in.binary)
		}
		if reason != nil {
			p.opts.Logger.Warn("closing long-poll session", "reason", reason.Reason)
			p.Close(*reason)
			in.done <- ErrSessionClosed
			continue
		}
		in.done <- nil
	}
}
