package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// MaxInbound bounds the client pushes waiting in one channel's mailbox. When
// it is reached, the connection's reader waits: a client that floods a busy
// channel slows only itself.
const MaxInbound = 1024

// Config describes a channel to start; the socket package fills it from a
// phx_join.
type Config struct {
	Topic string
	// JoinRef is the join_ref of the phx_join as received (may be null).
	JoinRef protocol.Ref
	// Ref is the ref of the phx_join.
	Ref     protocol.Ref
	Handler Handler
	Conn    Conn
	PubSub  pubsub.PubSub
	// Assigns are copied into the channel's socket.
	Assigns map[string]any
	Logger  *slog.Logger
	// WG tracks the channel's goroutines (the connection's group). Required.
	WG *sync.WaitGroup
	// OnExit, if set, runs after Terminate when the channel has ended.
	OnExit func(c *Channel, reason error)
}

// Channel is one joined (connection, topic): a mailbox served by a goroutine
// of its own, started while the mailbox has work. It is created by the
// socket package; applications see it through [Socket].
//
// Its methods are safe for concurrent use.
type Channel struct {
	cfg        Config
	sock       *Socket
	intercepts []string
	ctx        context.Context
	cancel     context.CancelFunc
	inbound    chan struct{} // Semaphore of MaxInbound slots for client pushes.

	gate   sync.Mutex  // Held while the join reply is being queued.
	open   atomic.Bool // The join reply is queued: fastlane frames may follow.
	muted  atomic.Bool // Drop this channel's pushes (replaced by a duplicate join).
	exited atomic.Bool
	done   atomic.Bool // Terminate has run: pushes are refused.

	mu      sync.Mutex // Protects the following.
	queue   []mail
	running bool
	started bool
	stopped bool
}

type mailKind uint8

const (
	mailIn mailKind = iota
	mailLeave
	mailOut
	mailInfo
	mailStop
)

type mail struct {
	kind   mailKind
	msg    protocol.Message
	bcast  *pubsub.Message
	info   any
	reason error
}

// joinCrashed is the join reply when Join panics or its reply cannot be encoded.
var joinCrashed = protocol.JSON([]byte(`{"reason":"join crashed"}`))

// New makes a channel; it does nothing until Join.
func New(cfg Config) *Channel {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Channel{cfg: cfg}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	jr := cfg.JoinRef
	if jr.IsNull() {
		jr = cfg.Ref
	}
	assigns := make(map[string]any, len(cfg.Assigns))
	for k, v := range cfg.Assigns {
		assigns[k] = v
	}
	c.sock = &Socket{Assigns: assigns, ch: c, joinRef: jr}
	if oh, ok := cfg.Handler.(OutHandler); ok {
		c.intercepts = oh.Intercept()
	}
	return c
}

// Topic is the channel's topic.
func (c *Channel) Topic() string { return c.cfg.Topic }

// JoinRef is the join_ref the client joined with, as received (may be null).
func (c *Channel) JoinRef() protocol.Ref { return c.cfg.JoinRef }

// EncodeJoinRef is the join_ref written in this channel's frames: the
// client's join_ref, or the join's ref when it sent none (V1).
func (c *Channel) EncodeJoinRef() protocol.Ref { return c.sock.joinRef }

// Socket is the channel's socket.
func (c *Channel) Socket() *Socket { return c.sock }

// Join runs the handler's Join in the calling goroutine (the connection's
// reader, which waits for joins as Phoenix's transport does). It returns the
// reply to send: status "ok" with ok true, or "error". A panic becomes
// {"reason":"join crashed"}. On success the caller must call Activate.
func (c *Channel) Join(payload protocol.Payload) (response protocol.Payload, ok bool) {
	var reply any
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		reply, err = c.cfg.Handler.Join(c.ctx, c.sock, c.cfg.Topic, payload)
	}()
	if err != nil {
		c.stop()
		c.cancel()
		switch e := err.(type) {
		case *PanicError:
			c.cfg.Logger.Error("channel join crashed", "topic", c.cfg.Topic, "err", e.Value, "stack", string(e.Stack))
			return joinCrashed, false
		case *JoinError:
			p, perr := ToPayload(e.Response)
			if perr != nil {
				p = joinCrashed
			}
			return p, false
		default:
			p, _ := ToPayload(map[string]string{"reason": err.Error()})
			return p, false
		}
	}
	p, err := ToPayload(reply)
	if err != nil {
		c.cfg.Logger.Error("channel join reply cannot be encoded", "topic", c.cfg.Topic, "err", err)
		c.stop()
		c.cancel()
		return joinCrashed, false
	}
	return p, true
}

// Activate completes a successful join: it subscribes to the topic, calls
// sendReply (which queues the join reply), and only then lets broadcasts and
// the mailbox run, so the reply is the first frame of the channel.
func (c *Channel) Activate(sendReply func()) {
	c.gate.Lock()
	c.cfg.PubSub.Subscribe(c.cfg.Topic, c)
	sendReply()
	c.open.Store(true)
	c.gate.Unlock()
	c.mu.Lock()
	c.started = true
	if len(c.queue) > 0 && !c.running && !c.stopped {
		c.running = true
		c.cfg.WG.Go(c.run)
	}
	c.mu.Unlock()
}

// Deliver implements pubsub.Subscriber: intercepted events go to the
// mailbox, every other event is written straight to the connection with the
// frame encoded once per serializer.
func (c *Channel) Deliver(m *pubsub.Message) {
	if !c.open.Load() {
		// Wait for the join reply to be queued: Activate holds the gate.
		c.gate.Lock()
		c.gate.Unlock() //lint:ignore SA2001 the empty critical section is the wait

	}
	if c.muted.Load() || c.exited.Load() {
		return
	}
	if len(c.intercepts) > 0 && slices.Contains(c.intercepts, m.Event) {
		c.post(mail{kind: mailOut, bcast: m})
		return
	}
	f, err := m.Frame(c.cfg.Conn.Serializer())
	if err != nil {
		c.cfg.Logger.Error("broadcast cannot be encoded", "topic", m.Topic, "event", m.Event, "err", err)
		return
	}
	c.cfg.Conn.Send(f)
}

// HandleIn queues a client push for HandleIn. It waits when MaxInbound
// pushes are already waiting.
func (c *Channel) HandleIn(m protocol.Message) {
	c.acquireInbound()
	if !c.post(mail{kind: mailIn, msg: m}) {
		c.releaseInbound()
	}
}

// Leave queues the client's phx_leave: the channel replies ok, the
// connection sends phx_close, then Terminate runs.
func (c *Channel) Leave(m protocol.Message) {
	c.post(mail{kind: mailLeave, msg: m})
}

// Stop queues a stop with reason, behind the messages already queued. The
// connection uses it when it ends; no phx_close or phx_error is sent.
func (c *Channel) Stop(reason error) {
	c.post(mail{kind: mailStop, reason: reason})
}

// Kill ends a channel replaced by a duplicate join: its subscription ends at
// once, its later pushes are dropped and it stops with ErrDuplicateJoin.
func (c *Channel) Kill() {
	c.muted.Store(true)
	c.cfg.PubSub.Unsubscribe(c.cfg.Topic, c)
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	for _, m := range c.queue {
		if m.kind == mailIn {
			c.releaseInbound()
		}
	}
	c.queue = c.queue[:0]
	c.mu.Unlock()
	c.Stop(ErrDuplicateJoin)
}

// send queues msg for HandleInfo.
func (c *Channel) send(msg any) bool {
	return c.post(mail{kind: mailInfo, info: msg})
}

func (c *Channel) acquireInbound() {
	c.mu.Lock()
	if c.inbound == nil {
		c.inbound = make(chan struct{}, MaxInbound)
	}
	sem := c.inbound
	c.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-c.ctx.Done():
	}
}

func (c *Channel) releaseInbound() {
	select {
	case <-c.inbound:
	default:
	}
}

func (c *Channel) post(m mail) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	c.queue = append(c.queue, m)
	if c.started && !c.running {
		c.running = true
		c.cfg.WG.Go(c.run)
	}
	return true
}

// run serves the mailbox until it is empty or the channel ends.
func (c *Channel) run() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.stopped {
			c.queue = nil
			c.running = false
			c.mu.Unlock()
			return
		}
		m := c.queue[0]
		c.queue[0] = mail{}
		c.queue = c.queue[1:]
		c.mu.Unlock()
		if m.kind == mailIn {
			c.releaseInbound()
		}
		if reason := c.handle(m); reason != nil {
			c.exit(reason)
		}
	}
}

// handle runs one callback and returns the reason to stop, if any.
func (c *Channel) handle(m mail) (reason error) {
	defer func() {
		if r := recover(); r != nil {
			reason = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	h := c.cfg.Handler
	switch m.kind {
	case mailIn:
		in := &Push{Event: m.msg.Event, Payload: m.msg.Payload, Ref: m.msg.Ref, ch: c}
		ih, ok := h.(InHandler)
		if !ok {
			return fmt.Errorf("channel: no HandleIn for event %q", m.msg.Event)
		}
		return ih.HandleIn(c.ctx, c.sock, in)
	case mailLeave:
		in := &Push{Event: m.msg.Event, Ref: m.msg.Ref, ch: c}
		_ = in.Reply("ok", nil)
		return ErrLeft
	case mailOut:
		return h.(OutHandler).HandleOut(c.ctx, c.sock, m.bcast.Event, m.bcast.Payload)
	case mailInfo:
		ih, ok := h.(InfoHandler)
		if !ok {
			c.cfg.Logger.Warn("channel has no HandleInfo; message dropped", "topic", c.cfg.Topic)
			return nil
		}
		return ih.HandleInfo(c.ctx, c.sock, m.info)
	case mailStop:
		return m.reason
	}
	return nil
}

// stop marks the channel stopped: nothing more is queued or delivered.
func (c *Channel) stop() {
	c.exited.Store(true)
	c.mu.Lock()
	c.stopped = true
	c.queue = nil
	c.mu.Unlock()
	c.cfg.PubSub.Unsubscribe(c.cfg.Topic, c)
}

// exit ends the channel in Phoenix's order: phx_close before Terminate for
// a normal stop, phx_error after it for a crash.
func (c *Channel) exit(reason error) {
	c.stop()
	ownStop := reason != ErrClosed && reason != ErrDisconnected && reason != ErrShutdown && reason != ErrDuplicateJoin
	crashed := !IsNormal(reason)
	if pe, ok := reason.(*PanicError); ok {
		c.cfg.Logger.Error("channel crashed", "topic", c.cfg.Topic, "err", pe.Value, "stack", string(pe.Stack))
	} else if crashed {
		c.cfg.Logger.Error("channel crashed", "topic", c.cfg.Topic, "err", reason)
	}
	if ownStop && !crashed {
		c.cfg.Conn.ChannelClosed(c, false)
	}
	if t, ok := c.cfg.Handler.(Terminator); ok {
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.cfg.Logger.Error("channel terminate panicked", "topic", c.cfg.Topic, "err", r, "stack", string(debug.Stack()))
				}
			}()
			t.Terminate(c.ctx, c.sock, reason)
		}()
	}
	if ownStop && crashed {
		c.cfg.Conn.ChannelClosed(c, true)
	}
	c.done.Store(true)
	c.cancel()
	if c.cfg.OnExit != nil {
		c.cfg.OnExit(c, reason)
	}
}

// ToPayload converts a reply or push value to a payload: nil is {}, a
// protocol.Payload or json.RawMessage is used as is, anything else is
// encoded with encoding/json.
func ToPayload(v any) (protocol.Payload, error) {
	switch v := v.(type) {
	case nil:
		return protocol.Payload{}, nil
	case protocol.Payload:
		return v, nil
	case json.RawMessage:
		return protocol.JSON(v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return protocol.Payload{}, fmt.Errorf("channel: cannot encode payload: %w", err)
	}
	return protocol.JSON(b), nil
}
