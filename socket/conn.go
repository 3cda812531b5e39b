package socket

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanrt"
	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// sender is what a connection needs from its transport.
type sender interface {
	Send(f protocol.Frame) bool
	// SendBatch is Send inside a PubSub's fan-out: the frame may wait for
	// the fan-out's batch to write it (package sendbatch).
	SendBatch(f protocol.Frame, b *sendbatch.Batch) bool
	Close(reason transport.CloseReason)
	// Abort ends the transport at once, dropping what is queued: for a
	// Shutdown whose context ended.
	Abort()
	// SlowConsumer ends the transport as its queue's overflow does
	// (transport.CloseSlowConsumer).
	SlowConsumer()
}

// conn is one client connection: Phoenix's transport process. Inbound
// frames are dispatched one at a time, in order, by the transport's reader
// (handleFrame); channels and broadcasts send frames on t, which never
// waits for the network.
type conn struct {
	srv       *Server
	ser       protocol.Serializer
	assigns   map[string]any
	id        string
	transport string
	log       *slog.Logger
	started   time.Time
	limits    *limits     // Options.Limits; nil: none. The reader's.
	group     workq.Group // The channels' goroutines.
	holdBytes int         // The transport's queue bound (0: its default), for chanrt.Config.HoldBytes.

	mu       sync.Mutex // Protects the following.
	t        sender
	pending  *transport.CloseReason // A close asked for before t was set.
	aborted  bool
	idSub    *pubsub.Subscription
	channels map[string]*chanrt.Channel
}

var _ chanrt.Conn = (*conn)(nil)

func newConn(s *Server, ser protocol.Serializer, assigns map[string]any, id, transportName string) *conn {
	c := &conn{srv: s, ser: ser, assigns: assigns, id: id, transport: transportName, log: s.log, started: time.Now(),
		limits: newLimits(s.opts.Limits)}
	if id != "" {
		c.log = c.log.With("socket_id", id)
	}
	switch transportName {
	case "websocket":
		if s.opts.WebSocket != nil {
			c.holdBytes = s.opts.WebSocket.QueueBytes
		}
	case "longpoll":
		c.holdBytes = s.lp.opts.QueueBytes
	}
	return c
}

// attach sets the transport, applying a close that came first.
func (c *conn) attach(t sender) {
	c.mu.Lock()
	c.t = t
	pending, aborted := c.pending, c.aborted
	c.mu.Unlock()
	if pending != nil {
		t.Close(*pending)
	}
	if aborted {
		t.Abort()
	}
}

// start subscribes to the socket id topic, whose "disconnect" broadcast
// closes the connection, and waits until a Disconnect made on any node
// reaches it: until the subscription is ready (one broker round trip for
// a new id on this node), at most chanrt.ReadyTimeout, or until ctx (the
// handshake's request) ends. The handshake completes after it, so a
// client that is connected can be disconnected.
func (c *conn) start(ctx context.Context) {
	if c.id == "" {
		return
	}
	sub, err := c.srv.ps.Subscribe(c.id, pubsub.SubscriberFunc(func(m *pubsub.Message) {
		if m.Event == "disconnect" {
			c.close(transport.CloseDisconnect)
		}
	}))
	if err != nil {
		c.log.Error("socket id not subscribed: Disconnect will not reach this connection", "err", err)
	}
	c.mu.Lock()
	c.idSub = sub
	c.mu.Unlock()
	if err == nil && !chanrt.WaitReady(sub.Ready(), ctx.Done()) && ctx.Err() == nil {
		c.log.Debug("socket connected before the broker confirmed the subscription of its id: a Disconnect from another node may be missed for a moment",
			"waited", chanrt.ReadyTimeout)
	}
}

// unsubscribeID ends the socket id's subscription.
func (c *conn) unsubscribeID() {
	c.mu.Lock()
	idSub := c.idSub
	c.idSub = nil
	c.mu.Unlock()
	if idSub != nil {
		idSub.Unsubscribe()
	}
}

// close asks the transport to close with reason.
func (c *conn) close(reason transport.CloseReason) {
	c.mu.Lock()
	t := c.t
	if t == nil && c.pending == nil {
		c.pending = &reason
	}
	c.mu.Unlock()
	if t != nil {
		t.Close(reason)
	}
}

// abort ends the transport at once.
func (c *conn) abort() {
	c.mu.Lock()
	t := c.t
	c.aborted = true
	c.mu.Unlock()
	if t != nil {
		t.Abort()
	}
}

// end runs once the transport has ended: every channel stops with the
// matching reason, and end waits for them.
func (c *conn) end(reason transport.CloseReason) {
	why := channel.ErrClosed
	switch reason {
	case transport.CloseDisconnect:
		why = channel.ErrDisconnected
	case transport.CloseShutdown:
		why = channel.ErrShutdown
	}
	c.unsubscribeID()
	c.mu.Lock()
	chans := c.channels
	c.channels = nil
	c.mu.Unlock()
	for _, ch := range chans {
		ch.Stop(why)
	}
	_ = c.group.Wait(context.Background())
	c.log.Debug("socket closed", "transport", c.transport, "reason", reason.Reason)
	c.ended(reason)
}

// Serializer implements chanrt.Conn.
func (c *conn) Serializer() protocol.Serializer { return c.ser }

// Transport implements chanrt.Conn.
func (c *conn) Transport() string { return c.transport }

// ID implements chanrt.Conn.
func (c *conn) ID() string { return c.id }

// Send implements chanrt.Conn.
func (c *conn) Send(f protocol.Frame) bool { return c.t.Send(f) }

// SendBatch implements chanrt.Conn.
func (c *conn) SendBatch(f protocol.Frame, b *sendbatch.Batch) bool { return c.t.SendBatch(f, b) }

// SlowConsumer implements chanrt.Conn: the transport is cut as when its
// queue overflows.
func (c *conn) SlowConsumer() { c.t.SlowConsumer() }

// ChannelClosed implements chanrt.Conn: the channel ended on its own, so
// the client is told with phx_close or phx_error.
func (c *conn) ChannelClosed(ch *chanrt.Channel, crashed bool) {
	c.mu.Lock()
	if c.channels[ch.Topic()] != ch {
		c.mu.Unlock()
		return
	}
	delete(c.channels, ch.Topic())
	c.mu.Unlock()
	if crashed {
		c.sendControl(ch, protocol.EventError, `{"reason":"channel_crash"}`)
	} else {
		c.sendControl(ch, protocol.EventClose, `{}`)
	}
}

// sendControl sends phx_close or phx_error: [join_ref, join_ref, topic, event, payload].
func (c *conn) sendControl(ch *chanrt.Channel, event, payload string) {
	jr := ch.ClientJoinRef()
	m := protocol.Message{JoinRef: jr, Ref: jr, Topic: ch.Topic(), Event: event, Payload: protocol.JSON([]byte(payload))}
	data, bin, err := c.ser.AppendMessage(nil, &m)
	if err != nil {
		c.logError("cannot encode message", m.Topic, err)
		return
	}
	c.t.Send(protocol.Frame{Data: data, Binary: bin})
}

// reply sends a phx_reply to m.
func (c *conn) reply(joinRef protocol.Ref, m *protocol.Message, status string, response protocol.Payload) {
	r := protocol.Reply{JoinRef: joinRef, Ref: m.Ref, Topic: m.Topic, TopicJSON: m.TopicJSON, Status: status, Response: response}
	data, bin, err := c.ser.AppendReply(nil, &r)
	if err != nil {
		c.logError("cannot encode reply", m.Topic, err)
		return
	}
	c.t.Send(protocol.Frame{Data: data, Binary: bin})
}

var (
	emptyResponse     = protocol.JSON([]byte("{}"))
	unmatchedTopic    = protocol.JSON([]byte(`{"reason":"unmatched topic"}`))
	tooManyChannels   = protocol.JSON([]byte(`{"reason":"too many channels joined"}`))
	decodeErrorReason = transport.CloseDecodeError
)

// handleFrame decodes and dispatches one inbound frame. A frame that cannot
// be decoded ends the connection, as in Phoenix.
func (c *conn) handleFrame(data []byte, binary bool) *transport.CloseReason {
	if h := c.srv.hooks; h != nil && h.FramesIn != nil {
		h.FramesIn(telemetry.FramesEvent{Transport: c.transport, Frames: 1, Bytes: len(data)})
	}
	m, err := c.ser.Decode(data, binary)
	if err != nil {
		c.logDecodeError(err)
		return &decodeErrorReason
	}
	c.dispatch(&m)
	return nil
}

// dispatch applies Phoenix's dispatch rules (docs/protocol.md, "Inbound
// dispatch") to one message.
func (c *conn) dispatch(m *protocol.Message) {
	if m.Topic == protocol.TopicPhoenix && !m.TopicJSON && m.Event == protocol.EventHeartbeat {
		c.reply(protocol.Null, m, "ok", emptyResponse)
		return
	}
	if c.limits != nil && !c.allow(m) {
		return
	}
	var ch *chanrt.Channel
	if !m.TopicJSON { // A topic that is not a string matches no channel.
		ch = c.channel(m.Topic)
	}
	if ch == nil {
		switch m.Event {
		case protocol.EventJoin:
			c.joinAside(m)
		case protocol.EventLeave:
			c.reply(m.JoinRef, m, "ok", emptyResponse)
		default:
			c.reply(protocol.Null, m, "error", unmatchedTopic)
		}
		return
	}
	switch m.Event {
	case protocol.EventJoin:
		c.logTopic(slog.LevelDebug, "duplicate channel join; closing the existing channel", m.Topic)
		c.mu.Lock()
		if c.channels[m.Topic] == ch {
			delete(c.channels, m.Topic)
		}
		c.mu.Unlock()
		ch.Kill()
		c.joinAside(m)
		c.sendControl(ch, protocol.EventClose, `{}`)
	case protocol.EventLeave:
		if m.JoinRef.IsNull() || m.JoinRef == ch.ClientJoinRef() {
			ch.Leave(*m)
		}
	default:
		if m.JoinRef.IsNull() || m.JoinRef == ch.ClientJoinRef() {
			ch.HandleIn(*m)
		}
	}
}

// channel returns the channel of topic, or nil.
func (c *conn) channel(topic string) *chanrt.Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.channels[topic]
}

// joinAside runs join on a goroutine of its own and waits for it. A join
// is the deepest path a client's frames take (the handler's Join, the
// subscription, the encoding and writing of the reply, the log line and
// hooks): on the connection's reader it would grow the reader's stack
// from 4 to 8 KiB, which an idle connection then keeps until garbage
// collections shrink it. A goroutine that ends gives its stack back at
// once.
func (c *conn) joinAside(m *protocol.Message) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.join(m)
	}()
	<-done
}

// join handles a phx_join for a topic with no channel (docs/protocol.md,
// "Join").
func (c *conn) join(m *protocol.Message) {
	var newHandler func() channel.Handler
	if !m.TopicJSON {
		newHandler = c.srv.match(m.Topic)
	}
	if newHandler == nil {
		c.joined(m.Topic, nil, telemetry.JoinUnmatched, nil, 0)
		c.reply(protocol.Null, m, "error", unmatchedTopic)
		return
	}
	c.mu.Lock()
	n := len(c.channels)
	c.mu.Unlock()
	if max := c.srv.opts.MaxChannels; max > 0 && n >= max {
		c.joined(m.Topic, nil, telemetry.JoinTooMany, nil, 0)
		c.reply(m.JoinRef, m, "error", tooManyChannels)
		return
	}
	ch := chanrt.New(chanrt.Config{
		Topic:       m.Topic,
		JoinRef:     m.JoinRef,
		Ref:         m.Ref,
		Handler:     newHandler(),
		Conn:        c,
		PubSub:      c.srv.ps,
		Assigns:     c.assigns,
		Logger:      c.log,
		Group:       &c.group,
		Hooks:       c.srv.hooks,
		LogHandleIn: c.srv.logc.handleIn,
		HoldBytes:   c.holdBytes,
	})
	start := time.Now()
	resp, status := ch.Join(m.Payload)
	d := time.Since(start)
	if status != telemetry.JoinOK {
		c.joined(m.Topic, m.Payload.Bytes(), status, resp.Bytes(), d)
		c.reply(m.JoinRef, m, "error", resp)
		return
	}
	// The reader waits for join, so end has not run: the connection is not closed yet.
	c.mu.Lock()
	if c.channels == nil {
		c.channels = make(map[string]*chanrt.Channel)
	}
	c.channels[m.Topic] = ch
	c.mu.Unlock()
	ch.Activate(func() { c.reply(m.JoinRef, m, "ok", resp) })
	c.joined(m.Topic, m.Payload.Bytes(), telemetry.JoinOK, nil, d)
}

// The log calls of the paths a client's frames take live in functions of
// their own, not inlined: the variadic arguments of a log call take stack
// space in the caller's frame, and every push runs on the reader
// goroutine, whose stack should stay within its first 4 KiB (joins run
// aside, see joinAside).

//go:noinline
func (c *conn) logTopic(level slog.Level, msg, topic string) {
	if c.log.Enabled(context.Background(), level) {
		c.log.Log(context.Background(), level, msg, "topic", topic)
	}
}

//go:noinline
func (c *conn) logError(msg, topic string, err error) {
	c.log.Error(msg, "topic", topic, "err", err)
}

//go:noinline
func (c *conn) logDecodeError(err error) {
	c.log.Warn("closing socket (1011): a frame is not a Phoenix message of this serializer", "transport", c.transport, "vsn", c.ser.Version(), "err", err)
	if h := c.srv.hooks; h != nil && h.DecodeError != nil {
		h.DecodeError(telemetry.DecodeErrorEvent{Transport: c.transport, SocketID: c.id, Err: err})
	}
}
