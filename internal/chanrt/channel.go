package chanrt

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanlink"
	"github.com/pyrehq/pyre/internal/workq"
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
	Handler channel.Handler
	Conn    Conn
	PubSub  *pubsub.PubSub
	// Assigns are copied into the channel's socket.
	Assigns map[string]any
	Logger  *slog.Logger
	// Group owns the channel's goroutines (the connection's). Required.
	Group *workq.Group
}

// Channel is one joined (connection, topic): a mailbox served by a
// goroutine of its own while it has work.
type Channel struct {
	cfg        Config
	sock       *channel.Socket
	joinRef    protocol.Ref // Written in the channel's frames.
	intercepts []string     // Set by Join, read after open.
	ctx        context.Context
	cancel     context.CancelFunc
	inbound    chan struct{} // Semaphore of MaxInbound slots for client pushes.
	mail       *workq.Queue[mail]

	gate   sync.Mutex  // Held while the join reply is being queued.
	open   atomic.Bool // The join reply is queued: fast-lane frames may follow.
	muted  atomic.Bool // Drop this channel's pushes (replaced by a duplicate join).
	exited atomic.Bool // stop has run: nothing more is handled or delivered.
	done   atomic.Bool // Terminate has run: pushes are refused.

	subMu sync.Mutex // Protects the following.
	sub   *pubsub.Subscription
	subs  map[string]*pubsub.Subscription // Made with Socket.Subscribe.

	onExit func(reason error) // For tests: runs once the channel has ended.
}

var (
	_ chanlink.Channel  = (*Channel)(nil)
	_ pubsub.Subscriber = (*Channel)(nil)
)

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
	c := &Channel{cfg: cfg, joinRef: cfg.JoinRef, inbound: make(chan struct{}, MaxInbound)}
	if c.joinRef.IsNull() {
		c.joinRef = cfg.Ref
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	assigns := make(map[string]any, len(cfg.Assigns))
	for k, v := range cfg.Assigns {
		assigns[k] = v
	}
	c.sock = chanlink.NewSocket(c, assigns).(*channel.Socket)
	c.mail = workq.New(cfg.Group, c.run, &workq.Options[mail]{Paused: true})
	return c
}

// Topic is the channel's topic.
func (c *Channel) Topic() string { return c.cfg.Topic }

// ClientJoinRef is the join_ref the client joined with, as received (may
// be null): the one phx_close and phx_error carry.
func (c *Channel) ClientJoinRef() protocol.Ref { return c.cfg.JoinRef }

// JoinRef is the join_ref written in this channel's frames: the client's
// join_ref, or the join's ref when it sent none (V1).
func (c *Channel) JoinRef() protocol.Ref { return c.joinRef }

// ID is the connection's socket id.
func (c *Channel) ID() string { return c.cfg.Conn.ID() }

// Transport names the connection's transport.
func (c *Channel) Transport() string { return c.cfg.Conn.Transport() }

// Context is the channel's context, canceled when it ends.
func (c *Channel) Context() context.Context { return c.ctx }

// Socket is the handle the handler sees.
func (c *Channel) Socket() *channel.Socket { return c.sock }

// Join runs the handler's Join in the calling goroutine (the connection's
// reader, which waits for joins as Phoenix's transport does). It returns the
// reply to send: status "ok" with ok true, or "error". A panic becomes
// {"reason":"join crashed"}. On success the caller must call Activate; on
// failure the channel is over (its subscriptions end, no Terminate).
func (c *Channel) Join(payload protocol.Payload) (response protocol.Payload, ok bool) {
	var reply any
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = &channel.PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		reply, err = c.cfg.Handler.Join(c.ctx, c.sock, c.cfg.Topic, payload)
		if oh, isOut := c.cfg.Handler.(channel.OutHandler); err == nil && isOut {
			c.intercepts = oh.Intercept()
		}
	}()
	if err != nil {
		c.stop()
		c.cancel()
		switch e := err.(type) {
		case *channel.PanicError:
			c.cfg.Logger.Error("channel join crashed", "topic", c.cfg.Topic, "err", e.Value, "stack", string(e.Stack))
			return joinCrashed, false
		case *channel.JoinError:
			p, perr := chanlink.Payload(e.Response)
			if perr != nil {
				c.cfg.Logger.Error("join refusal cannot be encoded", "topic", c.cfg.Topic, "err", perr)
				p = joinCrashed
			}
			return p, false
		default:
			p, _ := chanlink.Payload(map[string]string{"reason": err.Error()})
			return p, false
		}
	}
	p, err := chanlink.Payload(reply)
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
	sub, err := c.cfg.PubSub.Subscribe(c.cfg.Topic, c)
	sendReply()
	c.open.Store(true)
	c.gate.Unlock()
	// subMu is not taken under the gate: Subscribe holds it while it waits
	// for a shard lock, which a Deliver waiting for the gate may hold.
	c.subMu.Lock()
	c.sub = sub
	c.subMu.Unlock()
	if err != nil {
		// The PubSub is closed: the server is going away. The client gets
		// phx_error and rejoins, normally on another node.
		c.Stop(fmt.Errorf("channel: cannot subscribe to %q: %w", c.cfg.Topic, err))
	}
	c.mail.Resume()
}

// Deliver implements pubsub.Subscriber for the channel's topic:
// intercepted events go to the mailbox, every other event is written
// straight to the connection with the frame encoded once per serializer.
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
	select {
	case c.inbound <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
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
// once, its queued and later pushes are dropped and it stops with
// ErrDuplicateJoin.
func (c *Channel) Kill() {
	c.muted.Store(true)
	c.subMu.Lock()
	if c.sub != nil {
		c.sub.Unsubscribe()
	}
	c.subMu.Unlock()
	c.releaseMail(c.mail.Clear())
	c.Stop(channel.ErrDuplicateJoin)
}

// Send queues msg for HandleInfo.
func (c *Channel) Send(msg any) bool {
	return c.post(mail{kind: mailInfo, info: msg})
}

func (c *Channel) post(m mail) bool { return c.mail.Push(m) == nil }

func (c *Channel) releaseInbound() {
	select {
	case <-c.inbound:
	default:
	}
}

// releaseMail frees the inbound slots of pushes that will not be handled.
func (c *Channel) releaseMail(dropped []mail) {
	for _, m := range dropped {
		if m.kind == mailIn {
			c.releaseInbound()
		}
	}
}

// run serves a batch of the mailbox, in order, on the mailbox's goroutine.
func (c *Channel) run(batch []mail) {
	for _, m := range batch {
		if m.kind == mailIn {
			c.releaseInbound()
		}
		if c.exited.Load() || c.muted.Load() && m.kind != mailStop {
			continue
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
			reason = &channel.PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	h := c.cfg.Handler
	switch m.kind {
	case mailIn:
		ih, ok := h.(channel.InHandler)
		if !ok {
			return fmt.Errorf("channel: %T has no HandleIn method (channel.InHandler), so the push %q crashes the channel, as a missing handle_in clause does in Phoenix", h, m.msg.Event)
		}
		msg := chanlink.NewMessage(c, m.msg.Event, m.msg.Payload, m.msg.Ref).(*channel.Message)
		return ih.HandleIn(c.ctx, c.sock, msg)
	case mailLeave:
		if !m.msg.Ref.IsNull() {
			_ = c.Reply(m.msg.Ref, "ok", nil)
		}
		return channel.ErrLeft
	case mailOut:
		return h.(channel.OutHandler).HandleOut(c.ctx, c.sock, m.bcast.Event, m.bcast.Payload)
	case mailInfo:
		ih, ok := h.(channel.InfoHandler)
		if !ok {
			c.cfg.Logger.Warn("channel has no HandleInfo method (channel.InfoHandler); message dropped", "topic", c.cfg.Topic, "handler", fmt.Sprintf("%T", h))
			return nil
		}
		return ih.HandleInfo(c.ctx, c.sock, m.info)
	case mailStop:
		return m.reason
	}
	return nil
}

// stop marks the channel stopped: nothing more is queued or delivered,
// and its subscriptions end.
func (c *Channel) stop() {
	c.exited.Store(true)
	c.mail.Close()
	c.releaseMail(c.mail.Clear())
	c.subMu.Lock()
	subs := c.subs
	c.subs = nil
	sub := c.sub
	c.subMu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
	for _, s := range subs {
		s.Unsubscribe()
	}
}

// exit ends the channel in Phoenix's order: phx_close before Terminate for
// a normal stop, phx_error after it for a crash.
func (c *Channel) exit(reason error) {
	c.stop()
	ownStop := reason != channel.ErrClosed && reason != channel.ErrDisconnected &&
		reason != channel.ErrShutdown && reason != channel.ErrDuplicateJoin
	crashed := !channel.IsNormal(reason)
	if pe, ok := reason.(*channel.PanicError); ok {
		c.cfg.Logger.Error("channel crashed", "topic", c.cfg.Topic, "err", pe.Value, "stack", string(pe.Stack))
	} else if crashed {
		c.cfg.Logger.Error("channel crashed", "topic", c.cfg.Topic, "err", reason)
	}
	if ownStop && !crashed {
		c.cfg.Conn.ChannelClosed(c, false)
	}
	if t, ok := c.cfg.Handler.(channel.Terminator); ok {
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
	if c.onExit != nil {
		c.onExit(reason)
	}
}

// Push implements chanlink.Channel: [join_ref, null, topic, event, payload].
func (c *Channel) Push(event string, payload any) error {
	if !c.open.Load() || c.muted.Load() || c.done.Load() {
		return channel.ErrNotJoined
	}
	p, err := chanlink.Payload(payload)
	if err != nil {
		return err
	}
	m := protocol.Message{JoinRef: c.joinRef, Topic: c.cfg.Topic, Event: event, Payload: p}
	return c.write(c.cfg.Conn.Serializer().AppendMessage(nil, &m))
}

// write queues an encoded frame on the connection: what an Append method
// of the serializer returned.
func (c *Channel) write(data []byte, binary bool, err error) error {
	if err != nil {
		return err
	}
	if !c.cfg.Conn.Send(protocol.Frame{Data: data, Binary: binary}) {
		return channel.ErrNotJoined
	}
	return nil
}

// Broadcast implements chanlink.Channel.
func (c *Channel) Broadcast(ctx context.Context, event string, payload any, excludeSelf bool) error {
	m, err := chanlink.Broadcast(c.cfg.Topic, event, payload)
	if err != nil {
		return err
	}
	if excludeSelf {
		c.subMu.Lock()
		m.From = c.sub
		c.subMu.Unlock()
	}
	return c.cfg.PubSub.Broadcast(ctx, m)
}

// Reply implements chanlink.Channel: it writes to the connection, whether
// or not the channel still runs.
func (c *Channel) Reply(ref protocol.Ref, status string, response any) error {
	p, err := chanlink.Payload(response)
	if err != nil {
		return err
	}
	rep := protocol.Reply{JoinRef: c.joinRef, Ref: ref, Topic: c.cfg.Topic, Status: status, Response: p}
	return c.write(c.cfg.Conn.Serializer().AppendReply(nil, &rep))
}

// Subscribe implements chanlink.Channel: broadcasts on topic reach
// HandleInfo as channel.Broadcast values.
func (c *Channel) Subscribe(topic string) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.exited.Load() {
		return channel.ErrNotJoined
	}
	if c.subs[topic] != nil {
		return nil
	}
	sub, err := c.cfg.PubSub.Subscribe(topic, pubsub.SubscriberFunc(func(m *pubsub.Message) {
		c.post(mail{kind: mailInfo, info: channel.Broadcast{Topic: m.Topic, Event: m.Event, Payload: m.Payload}})
	}))
	if err != nil {
		return fmt.Errorf("channel: cannot subscribe to %q: %w", topic, err)
	}
	if c.subs == nil {
		c.subs = make(map[string]*pubsub.Subscription)
	}
	c.subs[topic] = sub
	return nil
}

// Unsubscribe implements chanlink.Channel.
func (c *Channel) Unsubscribe(topic string) {
	c.subMu.Lock()
	sub := c.subs[topic]
	delete(c.subs, topic)
	c.subMu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
}
