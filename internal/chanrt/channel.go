package chanrt

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanlink"
	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/telemetry"
)

// MaxInbound bounds the client pushes waiting in one channel's mailbox. When
// it is reached, the connection's reader waits: a client that floods a busy
// channel slows only itself.
const MaxInbound = 1024

// ReadyTimeout bounds how long a join waits for its topic's subscription
// to be ready ([pubsub.Subscription.Ready]) before it sends the join
// reply anyway. The wait is one broker round trip on the first join of a
// topic on a node (nothing otherwise), and adapters stop it themselves
// when they know their broker is down; the bound is for a broker that is
// slow or silently gone, until its adapter notices. 2 s keeps a join well
// inside phoenix.js's push timeout (10 s), after which the client would
// give up on the join and send it again, and keeps the connection's
// reader, which waits with the join as Phoenix's transport does, from
// stalling for long.
const ReadyTimeout = 2 * time.Second

// DefaultHoldBytes is the bound of the broadcasts a joining channel holds
// when Config.HoldBytes is zero: 1 MiB, the default bound of both
// transports' outbound queues.
const DefaultHoldBytes = 1 << 20

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
	// Hooks, when not nil, are told of the channel's events.
	Hooks *telemetry.Hooks
	// LogHandleIn is the level of the line logged for each handled push;
	// LogOff logs none.
	LogHandleIn slog.Level
	// HoldBytes bounds the fast-lane broadcasts a channel holds while its
	// join reply waits for the topic's subscription (Activate), in bytes
	// of frames; the socket package gives its transport's queue bound.
	// Passing it cuts the connection as a slow consumer
	// (Conn.SlowConsumer), as the transport would once the held frames
	// reached its queue. One frame larger than the bound is held when
	// nothing else is. Zero means DefaultHoldBytes.
	HoldBytes int
}

// LogOff is a log level at which nothing is logged.
const LogOff = slog.Level(1 << 30)

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

	// Before the join reply is queued, Deliver holds the fast-lane frames
	// here; Activate sends them after the reply, in order, and opens the
	// channel.
	holdMu    sync.Mutex       // Protects the following, and the change of open.
	held      []protocol.Frame // Oldest first.
	heldBytes int
	overflow  bool          // held passed HoldBytes: dropped, the connection is cut.
	stopping  bool          // Stop was called: Activate does not wait.
	abandon   chan struct{} // Made by an Activate that waits, closed by Stop.
	open      atomic.Bool   // The join reply and the held frames are queued: fast-lane frames go straight to the connection.

	muted  atomic.Bool // Drop this channel's pushes (replaced by a duplicate join).
	exited atomic.Bool // stop has run: nothing more is handled or delivered.
	done   atomic.Bool // Terminate has run: pushes are refused.

	subMu sync.Mutex // Protects the following.
	sub   *pubsub.Subscription
	subs  map[string]*pubsub.Subscription // Made with Socket.Subscribe.

	joinedAt time.Time // Set by Activate, for LeaveEvent.Joined.

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
	if cfg.HoldBytes <= 0 {
		cfg.HoldBytes = DefaultHoldBytes
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
	c.mail = workq.New(cfg.Group, c.run, &workq.Options[mail]{Paused: true, LingerBusy: mailboxLinger})
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

// Join runs the handler's Join in the calling goroutine (one the
// connection's reader waits for, as Phoenix's transport waits for joins). It returns the
// reply's response and the outcome: telemetry.JoinOK (reply "ok"),
// JoinRefused or JoinCrashed (reply "error"; a panic or a reply that
// cannot be encoded becomes {"reason":"join crashed"}). After JoinOK the
// caller must call Activate; otherwise the channel is over (its
// subscriptions end, no Terminate).
func (c *Channel) Join(payload protocol.Payload) (response protocol.Payload, outcome string) {
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
			c.crashed("Join", "", e)
			return joinCrashed, telemetry.JoinCrashed
		case *channel.JoinError:
			p, perr := chanlink.Payload(e.Response)
			if perr != nil {
				c.crashed("Join", "", fmt.Errorf("channel: join refusal cannot be encoded: %w", perr))
				return joinCrashed, telemetry.JoinCrashed
			}
			return p, telemetry.JoinRefused
		default:
			p, _ := chanlink.Payload(map[string]string{"reason": err.Error()})
			return p, telemetry.JoinRefused
		}
	}
	p, err := chanlink.Payload(reply)
	if err != nil {
		c.crashed("Join", "", fmt.Errorf("channel: join reply cannot be encoded: %w", err))
		c.stop()
		c.cancel()
		return joinCrashed, telemetry.JoinCrashed
	}
	return p, telemetry.JoinOK
}

// Activate completes a successful join: it subscribes to the topic,
// waits until broadcasts from other nodes reach the subscription
// ([pubsub.Subscription.Ready], at most ReadyTimeout, or until Stop),
// calls sendReply (which queues the join reply), then sends the
// broadcasts held meanwhile, in order, and only then lets broadcasts and
// the mailbox run: the reply is the first frame of the channel, and a
// client that has it gets every later broadcast, from any node.
//
// No lock is held while it waits: broadcasts to the topic meanwhile are
// held by Deliver (bounded by Config.HoldBytes) or, intercepted, wait in
// the paused mailbox; nobody waits for the channel.
func (c *Channel) Activate(sendReply func()) {
	if c.cfg.Hooks != nil && c.cfg.Hooks.Leave != nil {
		c.joinedAt = time.Now()
	}
	sub, err := c.cfg.PubSub.Subscribe(c.cfg.Topic, c)
	c.subMu.Lock()
	c.sub = sub
	c.subMu.Unlock()
	if err == nil {
		c.waitReady(sub.Ready())
	}
	sendReply()
	// Under holdMu, so that a Deliver either holds its frame before the
	// flush or sends it after: in order, and never before the reply.
	c.holdMu.Lock()
	for _, f := range c.held {
		c.cfg.Conn.Send(f)
	}
	c.held, c.heldBytes = nil, 0
	c.open.Store(true)
	c.holdMu.Unlock()
	if err != nil {
		// The PubSub is closed: the server is going away. The client gets
		// phx_error and rejoins, normally on another node.
		c.Stop(fmt.Errorf("channel: cannot subscribe to %q: %w", c.cfg.Topic, err))
	}
	c.mail.Resume()
}

// WaitReady waits until ready is closed, at most ReadyTimeout, and
// reports whether it was; it returns false at once when stop is closed.
// It allocates nothing when ready is closed already.
func WaitReady(ready, stop <-chan struct{}) bool {
	select {
	case <-ready:
		return true
	default:
	}
	timer := time.NewTimer(ReadyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return true
	case <-timer.C:
		return false
	case <-stop:
		return false
	}
}

// waitReady waits for ready, at most ReadyTimeout, unless Stop is or gets
// called. The channel that Stop closes is made only for a wait: most
// joins find their topic ready.
func (c *Channel) waitReady(ready <-chan struct{}) {
	select {
	case <-ready:
		return
	default:
	}
	c.holdMu.Lock()
	if c.stopping {
		c.holdMu.Unlock()
		return
	}
	c.abandon = make(chan struct{})
	stop := c.abandon
	c.holdMu.Unlock()
	if !WaitReady(ready, stop) {
		c.logNotReady()
	}
}

// logNotReady is not inlined: Activate runs on the connection's reader,
// whose stack the arguments of a log call would grow for every join.
//
//go:noinline
func (c *Channel) logNotReady() {
	c.holdMu.Lock()
	stopping := c.stopping
	c.holdMu.Unlock()
	if stopping {
		return
	}
	c.cfg.Logger.Debug("join reply sent before the broker confirmed the topic's subscription: broadcasts from other nodes may be missed for a moment",
		"topic", c.cfg.Topic, "waited", ReadyTimeout)
}

// mailboxLinger is how long a busy channel's goroutine waits for its next
// message before it ends (workq.Options.LingerBusy): a channel that gets
// messages less than that apart (a client's pushes one after the other)
// keeps its goroutine, and its grown stack, from one to the next.
const mailboxLinger = 20 * time.Millisecond

// Deliver implements pubsub.Subscriber for the channel's topic:
// intercepted events go to the mailbox, every other event is written
// straight to the connection with the frame encoded once per serializer.
// Before the join reply is queued, the mailbox is paused and fast-lane
// frames are held (see Activate). Deliver never blocks.
func (c *Channel) Deliver(m *pubsub.Message) { c.deliver(m, nil) }

// DeliverBatch is Deliver inside a PubSub's fan-out: a fast-lane frame
// may be left queued on the connection, for b's flush to write after the
// fan-out (package sendbatch).
func (c *Channel) DeliverBatch(m *pubsub.Message, b *sendbatch.Batch) { c.deliver(m, b) }

func (c *Channel) deliver(m *pubsub.Message, b *sendbatch.Batch) {
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
	if !c.open.Load() && c.hold(f) {
		return
	}
	if b != nil {
		c.cfg.Conn.SendBatch(f, b)
		return
	}
	c.cfg.Conn.Send(f)
}

// hold keeps f for Activate to send after the join reply, and reports
// whether it did; false means the channel opened meanwhile, and the
// caller sends f itself. Past HoldBytes it drops what it holds and cuts
// the connection, as the transport would have once these frames reached
// its queue.
func (c *Channel) hold(f protocol.Frame) bool {
	c.holdMu.Lock()
	switch {
	case c.open.Load():
		c.holdMu.Unlock()
		return false
	case c.overflow:
		c.holdMu.Unlock()
		return true
	case len(c.held) > 0 && c.heldBytes+len(f.Data) > c.cfg.HoldBytes:
		c.overflow = true
		c.held, c.heldBytes = nil, 0
		c.holdMu.Unlock()
		c.cfg.Logger.Warn("broadcasts held for a joining channel passed the connection's queue bound: cutting it as a slow consumer",
			"topic", c.cfg.Topic, "hold_bytes", c.cfg.HoldBytes)
		c.cfg.Conn.SlowConsumer()
		return true
	}
	c.held = append(c.held, f)
	c.heldBytes += len(f.Data)
	c.holdMu.Unlock()
	return true
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
// connection uses it when it ends; no phx_close or phx_error is sent. An
// Activate waiting for the subscription stops waiting.
func (c *Channel) Stop(reason error) {
	c.holdMu.Lock()
	if !c.stopping {
		c.stopping = true
		if c.abandon != nil {
			close(c.abandon)
		}
	}
	c.holdMu.Unlock()
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
			c.exit(reason, &m)
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
		if !c.observeHandleIn() {
			return ih.HandleIn(c.ctx, c.sock, msg)
		}
		start := time.Now()
		defer func() {
			if r := recover(); r != nil { // Before handle's own recover: the event must see the crash.
				reason = &channel.PanicError{Value: r, Stack: debug.Stack()}
			}
			c.handledIn(m.msg.Event, time.Since(start), reason)
		}()
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
// a normal stop, phx_error after it for a crash. m is the message whose
// callback returned reason.
func (c *Channel) exit(reason error, m *mail) {
	c.stop()
	ownStop := reason != channel.ErrClosed && reason != channel.ErrDisconnected &&
		reason != channel.ErrShutdown && reason != channel.ErrDuplicateJoin
	crashed := !channel.IsNormal(reason)
	if crashed {
		c.crashed(m.callback(), m.event(), reason)
	}
	if ownStop && !crashed {
		c.cfg.Conn.ChannelClosed(c, false)
	}
	if t, ok := c.cfg.Handler.(channel.Terminator); ok {
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.crashed("Terminate", "", &channel.PanicError{Value: r, Stack: debug.Stack()})
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
	if h := c.cfg.Hooks; h != nil && h.Leave != nil {
		h.Leave(telemetry.LeaveEvent{
			Transport: c.cfg.Conn.Transport(), SocketID: c.cfg.Conn.ID(), Topic: c.cfg.Topic,
			Reason: reason, Crashed: crashed, Joined: time.Since(c.joinedAt),
		})
	}
	if c.onExit != nil {
		c.onExit(reason)
	}
}

// crashed logs a crash, naming the callback and the event, and tells the
// hooks.
func (c *Channel) crashed(callback, event string, reason error) {
	args := []any{"topic", c.cfg.Topic, "callback", callback}
	if event != "" {
		args = append(args, "event", event)
	}
	if pe, ok := reason.(*channel.PanicError); ok {
		args = append(args, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	} else {
		args = append(args, "err", reason)
	}
	msg := "channel crashed: the client gets phx_error and rejoins"
	switch callback {
	case "Join":
		msg = `channel join crashed: the client gets {"reason":"join crashed"}`
	case "Terminate":
		msg = "channel Terminate panicked"
	}
	c.cfg.Logger.Error(msg, args...)
	if h := c.cfg.Hooks; h != nil && h.ChannelCrash != nil {
		h.ChannelCrash(telemetry.ChannelCrashEvent{
			Transport: c.cfg.Conn.Transport(), SocketID: c.cfg.Conn.ID(), Topic: c.cfg.Topic,
			Callback: callback, Event: event, Err: reason,
		})
	}
}

// observeHandleIn reports whether a handled push is logged or hooked, so
// that the clock is read only then.
func (c *Channel) observeHandleIn() bool {
	return c.cfg.LogHandleIn != LogOff && c.cfg.Logger.Enabled(context.Background(), c.cfg.LogHandleIn) ||
		c.cfg.Hooks != nil && c.cfg.Hooks.HandleIn != nil
}

// handledIn logs a handled push (Phoenix's "HANDLED event INCOMING ON
// topic in 12µs") and tells the hooks.
//
//go:noinline
func (c *Channel) handledIn(event string, d time.Duration, reason error) {
	crashed := !channel.IsNormal(reason)
	if c.cfg.LogHandleIn != LogOff && c.cfg.Logger.Enabled(context.Background(), c.cfg.LogHandleIn) {
		c.cfg.Logger.Log(context.Background(), c.cfg.LogHandleIn, "handled "+event+" in "+fmtDuration(d),
			"topic", c.cfg.Topic, "event", event, "duration", d)
	}
	if h := c.cfg.Hooks; h != nil && h.HandleIn != nil {
		h.HandleIn(telemetry.HandleInEvent{
			Transport: c.cfg.Conn.Transport(), SocketID: c.cfg.Conn.ID(), Topic: c.cfg.Topic,
			Event: event, Duration: d, Crashed: crashed,
		})
	}
}

// callback names the handler callback a message goes to.
func (m *mail) callback() string {
	if m == nil {
		return "Join"
	}
	switch m.kind {
	case mailIn:
		return "HandleIn"
	case mailOut:
		return "HandleOut"
	case mailInfo:
		return "HandleInfo"
	}
	return ""
}

// event is the event a message carries, if any.
func (m *mail) event() string {
	switch {
	case m == nil:
		return ""
	case m.kind == mailIn:
		return m.msg.Event
	case m.kind == mailOut:
		return m.bcast.Event
	}
	return ""
}

// fmtDuration prints d as Phoenix does in its logs: µs below a
// millisecond, ms above.
func fmtDuration(d time.Duration) string {
	if d < time.Millisecond {
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
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
	if h := c.cfg.Hooks; h != nil && h.Broadcast != nil {
		h.Broadcast(telemetry.BroadcastEvent{Topic: m.Topic, Event: event})
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
