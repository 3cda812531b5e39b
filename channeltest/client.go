package channeltest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// The defaults of Options.Timeout and Options.RefuteTimeout.
const (
	// DefaultTimeout is how long an Assert method waits. ExUnit's
	// assert_receive waits 100 ms; a message that crosses a real socket,
	// often under -race and beside parallel tests, is given more, which
	// costs nothing when it comes.
	DefaultTimeout = time.Second
	// DefaultRefuteTimeout is how long a Refute method waits: ExUnit's
	// refute_receive_timeout.
	DefaultRefuteTimeout = 100 * time.Millisecond
)

// ioTimeout bounds the handshake and each write, which are not
// assertions: they only fail when something is badly wrong.
const ioTimeout = 10 * time.Second

// Options configures [Connect]. The zero value, like a nil *Options, gives a
// phoenix.js-like V2 client of a handler mounted at /socket.
type Options struct {
	// Mount is the path the socket is mounted at: the client connects to
	// Mount + "/websocket", as phoenix.js's new Socket(Mount) does. If
	// empty, "/socket". A socket.Server answers any path ending in
	// /websocket; Mount matters when the handler is the application's
	// own mux.
	Mount string

	// Serializer is the wire format the client speaks: protocol.V2
	// (vsn=2.0.0, what phoenix.js sends) or protocol.V1 (vsn=1.0.0). If
	// zero, V2.
	Serializer protocol.Serializer

	// Header is sent with the handshake request; Connect sees it in
	// socket.ConnectInfo (x-* headers, User-Agent, ...).
	Header http.Header

	// AuthToken, if not empty, is sent the way phoenix.js 1.8's authToken
	// option sends it, in Sec-WebSocket-Protocol. The server reads it
	// with socket.Options.AuthToken set.
	AuthToken string

	// Timeout is how long each Assert method, Join and Leave wait for
	// what they expect. If zero, [DefaultTimeout] (1 s).
	Timeout time.Duration

	// RefuteTimeout is how long each Refute method waits for what must
	// not come; a passing Refute always waits that long. If zero,
	// [DefaultRefuteTimeout] (100 ms, ExUnit's refute_receive_timeout).
	RefuteTimeout time.Duration

	// PubSub is where Join subscribes the test to each topic, for
	// Channel.AssertBroadcast and Channel.BroadcastFrom. If nil, the
	// handler's when it has a PubSub method, as socket.Server (and a type
	// embedding one) has; otherwise those methods fail the test.
	PubSub *pubsub.PubSub
}

// Client is a test's connection to a socket endpoint: phoenix.js's Socket,
// driven by a test. [Connect] makes one; [Client.Join] joins topics on it.
//
// A background goroutine reads every frame the server sends into a
// mailbox per channel, so the server never waits for the test; the
// assertions take from the mailboxes. Connect registers, with t.Cleanup,
// closing the connection, ending the test's PubSub subscriptions and
// stopping the goroutines it started.
//
// The methods of Client and Channel may be called from any goroutine, but
// the ones that fail the test call t.Fatal, which, like t.FailNow, must be
// called from the goroutine running the test.
type Client struct {
	t             testing.TB
	ser           protocol.Serializer
	timeout       time.Duration
	refuteTimeout time.Duration
	ps            *pubsub.PubSub
	ts            *httptest.Server
	ws            *websocket.Conn
	readDone      chan struct{} // Closed when the reader has returned.

	mu       sync.Mutex          // Protects the fields below and every Channel's mailboxes.
	ref      int                 // The last ref sent.
	topics   map[string]*Channel // The last channel joined on each topic.
	joins    map[string]*Channel // Channels by join_ref.
	refs     map[Ref]*Channel    // The channel of each ref sent.
	stray    []*frame            // Frames for no channel of this client.
	bad      []string            // Frames that did not decode, and why.
	readErr  error               // Why reading ended; nil while open.
	closing  bool                // Close was called.
	changed  chan struct{}       // Closed and replaced on every arrival.
	channels []*Channel          // Every channel, for the cleanup.
}

// Ref is the ref of a message the client pushed, to match its reply with
// [Channel.AssertReply].
type Ref string

// Connect connects a client to h, a *socket.Server or a handler that
// serves one under Options.Mount, over a real WebSocket: h is served
// by an httptest.Server on the loopback interface, for this client
// alone. params become the query string, as phoenix.js's params option;
// vsn is added. opts may be nil. It fails the test if the handshake does
// (for example when Connect refuses the client); use [TryConnect] to test
// a refusal. It returns once the server has answered a heartbeat, so the
// connection is fully set up: socket.Server.Disconnect reaches it.
//
// This is Phoenix.ChannelTest's connect/3, with two differences: the
// socket's own Connect and ID callbacks run, from a real handshake, and
// every channel then joined runs as it does in production.
func Connect(t testing.TB, h http.Handler, params map[string]string, opts *Options) *Client {
	t.Helper()
	c, resp, err := TryConnect(t, h, params, opts)
	if err != nil {
		if resp != nil {
			t.Fatalf("channeltest: connect refused with HTTP %s%s", resp.Status, bodyNote(resp))
		} else {
			t.Fatalf("%v", err)
		}
		return nil
	}
	return c
}

// TryConnect is [Connect] returning the handshake's failure instead of
// failing the test: when the server answers without upgrading (403 when
// socket.Options.Connect returns socket.ErrRefused, what an ErrorHandler
// writes, ...), resp is its response, with the first KiB of the body
// readable. Phoenix's connect/3 returns :error there.
func TryConnect(t testing.TB, h http.Handler, params map[string]string, opts *Options) (c *Client, resp *http.Response, err error) {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Mount == "" {
		o.Mount = "/socket"
	}
	if o.Serializer != protocol.V1 {
		o.Serializer = protocol.V2
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RefuteTimeout <= 0 {
		o.RefuteTimeout = DefaultRefuteTimeout
	}
	if o.PubSub == nil {
		if srv, ok := h.(interface{ PubSub() *pubsub.PubSub }); ok {
			o.PubSub = srv.PubSub()
		}
	}

	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	q.Set("vsn", o.Serializer.Version())
	ts := httptest.NewServer(h)
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + strings.TrimSuffix(o.Mount, "/") + "/websocket?" + q.Encode()

	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	dopts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: o.Header.Clone()}
	if o.AuthToken != "" {
		dopts.Subprotocols = []string{"phoenix", "base64url.bearer.phx." + base64.RawURLEncoding.EncodeToString([]byte(o.AuthToken))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, dopts)
	if err != nil {
		ts.Close()
		return nil, resp, fmt.Errorf("channeltest: connect to %s: %w", u, err)
	}
	ws.SetReadLimit(-1)
	c = &Client{
		t:             t,
		ser:           o.Serializer,
		timeout:       o.Timeout,
		refuteTimeout: o.RefuteTimeout,
		ps:            o.PubSub,
		ts:            ts,
		ws:            ws,
		readDone:      make(chan struct{}),
		topics:        map[string]*Channel{},
		joins:         map[string]*Channel{},
		refs:          map[Ref]*Channel{},
		changed:       make(chan struct{}),
	}
	go c.read()
	t.Cleanup(c.cleanup)
	if err := c.heartbeat(); err != nil {
		return nil, nil, err
	}
	return c, resp, nil
}

// heartbeat sends a heartbeat and waits for its reply. The server reads
// frames only once the connection is fully set up, its socket id
// subscribed for Server.Disconnect included: Connect returns after that.
func (c *Client) heartbeat() error {
	c.mu.Lock()
	ref := c.nextRef()
	c.mu.Unlock()
	b, _, err := encodeFrame(c.ser, "", string(ref), "phoenix", "heartbeat", protocol.JSON([]byte("{}")))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("channeltest: heartbeat: %w", err)
	}
	var reply *frame
	if !c.wait(ioTimeout, true, func() bool {
		for i, f := range c.stray {
			if f.topic == "phoenix" && f.event == eventReply && f.ref == string(ref) {
				reply = f
				c.stray = append(c.stray[:i:i], c.stray[i+1:]...)
				return true
			}
		}
		return false
	}) {
		return fmt.Errorf("channeltest: no reply to the heartbeat within %v%s", ioTimeout, c.closedNote())
	}
	if reply.status != "ok" {
		return fmt.Errorf("channeltest: heartbeat answered %s", reply)
	}
	return nil
}

// bodyNote is ": " and the start of resp's body, if it has one.
func bodyNote(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	b := make([]byte, 200)
	n, _ := resp.Body.Read(b)
	if n == 0 {
		return ""
	}
	return ": " + strconv.Quote(string(b[:n]))
}

// read reads every frame into the mailboxes until the connection ends.
func (c *Client) read() {
	defer close(c.readDone)
	for {
		typ, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			var ce websocket.CloseError
			if c.closing && !errors.As(err, &ce) {
				err = errClosedByClient
			}
			c.readErr = err
			c.signal()
			c.mu.Unlock()
			return
		}
		if f, err := decodeFrame(c.ser, data, typ == websocket.MessageBinary); err != nil {
			c.bad = append(c.bad, err.Error())
		} else {
			c.route(f)
		}
		c.signal()
		c.mu.Unlock()
	}
}

// route puts f in the mailbox of its channel: the one that sent its ref
// (a reply), the one of its join_ref, or the last one joined on its topic.
//
// c.mu must be held.
func (c *Client) route(f *frame) {
	var ch *Channel
	if f.event == eventReply && f.ref != "" {
		ch = c.refs[Ref(f.ref)]
	}
	if ch == nil && f.joinRef != "" {
		if j := c.joins[f.joinRef]; j != nil && j.topic == f.topic {
			ch = j
		}
	}
	if ch == nil {
		ch = c.topics[f.topic]
	}
	if ch == nil {
		c.stray = append(c.stray, f)
		return
	}
	ch.inbox = append(ch.inbox, f)
	ch.presence.apply(f)
}

// signal wakes the waiters.
//
// c.mu must be held.
func (c *Client) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait calls found, with c.mu held, until it reports true or d has passed.
// With frames set it also stops once the connection has ended, as no
// frame can come any more. It reports what found last reported.
func (c *Client) wait(d time.Duration, frames bool, found func() bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	expired := false
	for {
		c.mu.Lock()
		ok := found()
		ended := frames && c.readErr != nil
		changed := c.changed
		c.mu.Unlock()
		if ok || ended || expired {
			return ok
		}
		select {
		case <-changed:
		case <-timer.C:
			expired = true
		}
	}
}

// nextRef returns a new ref: "1", "2", ..., one counter per connection as
// in phoenix.js.
//
// c.mu must be held.
func (c *Client) nextRef() Ref {
	c.ref++
	return Ref(strconv.Itoa(c.ref))
}

// send writes one message. It reports false, having failed the test, when
// the message cannot be encoded or written.
func (c *Client) send(joinRef string, ref Ref, topic, event string, p protocol.Payload) bool {
	c.t.Helper()
	if c.ser == protocol.V1 {
		joinRef = ""
	}
	b, binary, err := encodeFrame(c.ser, joinRef, string(ref), topic, event, p)
	if err != nil {
		c.t.Fatalf("channeltest: push %q on %q: %v", event, topic, err)
		return false
	}
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("channeltest: push %q on %q: %v%s", event, topic, err, c.closedNote())
		return false
	}
	return true
}

// closedNote says how the connection ended, if it has.
func (c *Client) closedNote() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readErr == nil {
		return ""
	}
	return "\n\tthe connection has closed: " + describeClose(c.readErr)
}

// Join joins topic with payload (the join params, phoenix.js's
// socket.channel(topic, params)) and waits for the reply. It fails the
// test unless the join is accepted, and returns the joined channel.
// payload follows channel.Socket.Push's rules: nil is {}.
//
// Before joining, it subscribes the test to topic on the PubSub (see
// [Options.PubSub]), so that [Channel.AssertBroadcast] sees every broadcast
// on the topic from then on: this is Phoenix's subscribe_and_join!. The
// subscription lasts until the test ends.
//
// Joining a topic again makes a new Channel; the server closes the old
// one (phx_close), which the old Channel receives.
func (c *Client) Join(topic string, payload any) *Channel {
	c.t.Helper()
	ch, reply := c.join(topic, payload)
	if ch == nil {
		return nil
	}
	if reply.status != "ok" {
		ch.unsubscribe()
		c.t.Fatalf("channeltest: join %q refused: status %q, response %s", topic, reply.status, showPayload(reply.payload))
		return nil
	}
	ch.response = reply.payload
	return ch
}

// AssertJoinError joins topic with payload and fails the test unless the
// join is refused with a response matching want (compared as JSON, nil
// matching any), as a Handler's Join refuses with channel.Refuse(want).
// A Join that returns another error is refused with {"reason":
// err.Error()}, one that panics with {"reason": "join crashed"}, and a
// topic no route matches with {"reason": "unmatched topic"}. It returns
// the response.
//
// Phoenix: {:error, reply} = subscribe_and_join(socket, topic, payload).
func (c *Client) AssertJoinError(topic string, payload, want any) protocol.Payload {
	c.t.Helper()
	w, err := newWant(want)
	if err != nil {
		c.t.Fatal("channeltest: AssertJoinError: " + err.Error())
		return protocol.Payload{}
	}
	ch, reply := c.join(topic, payload)
	if ch == nil {
		return protocol.Payload{}
	}
	ch.unsubscribe()
	if reply.status != "error" {
		c.t.Fatalf("channeltest: join %q: got status %q, response %s; want it refused\n\twant: error %s", topic, reply.status, showPayload(reply.payload), w)
		return reply.payload
	}
	if d := w.diff(reply.payload); d != nil {
		c.t.Fatalf("channeltest: join %q refused with another response\n\tgot:  %s\n\twant: %s\n%s", topic, showPayload(reply.payload), w, indent(d, 1))
	}
	return reply.payload
}

// join subscribes the test to topic, sends the join and waits for its
// reply. It returns nil, having failed the test, if no reply came.
func (c *Client) join(topic string, payload any) (*Channel, *frame) {
	c.t.Helper()
	p, err := payloadOf(payload)
	if err != nil {
		c.t.Fatalf("channeltest: join %q: the payload does not encode to JSON: %v", topic, err)
		return nil, nil
	}
	ch := &Channel{c: c, topic: topic, sent: map[Ref]string{}}
	if c.ps != nil {
		sub, err := c.ps.Subscribe(topic, pubsub.SubscriberFunc(ch.deliver))
		if err != nil {
			c.t.Fatalf("channeltest: join %q: subscribe the test to the topic: %v", topic, err)
			return nil, nil
		}
		ch.sub = sub
	}
	c.mu.Lock()
	ref := c.nextRef()
	ch.joinRef = string(ref)
	ch.sent[ref] = eventJoin
	c.topics[topic] = ch
	c.joins[ch.joinRef] = ch
	c.refs[ref] = ch
	c.channels = append(c.channels, ch)
	c.mu.Unlock()
	if !c.send(ch.joinRef, ref, topic, eventJoin, p) {
		return nil, nil
	}
	var reply *frame
	if !c.wait(c.timeout, true, func() bool {
		reply = ch.take(isReplyTo(ref))
		return reply != nil
	}) {
		c.t.Fatal(ch.report(fmt.Sprintf("no reply to the join of %q within %v", topic, c.timeout), nil, ""))
		return nil, nil
	}
	return ch, reply
}
