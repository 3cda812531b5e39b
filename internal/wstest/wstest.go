// Package wstest is a wire-level Phoenix client for Go tests: it dials a
// socket endpoint with github.com/coder/websocket, sends raw V1, V2 and
// binary frames, and checks the frames the server sends back.
//
// It is written independently of package protocol on purpose, so that a
// bug in the server's encoder is not mirrored by the client.
//
// A background goroutine reads every frame into an unbounded inbox, so the
// server is never slowed down by a test that has not looked yet; Expect
// takes frames from that inbox in order. Construct a client with [Dial];
// its methods must be called from the test's goroutine, except
// [Client.Close] and [Client.CloseNow].
//
// Refs follow Phoenix's own test client: refs count from "1" across the
// connection, join_refs from "11" (so that a server mixing them up is
// caught), and each message reuses the join_ref of the last join on its
// topic. A V1 client never sends join_ref.
package wstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Timeout bounds every wait of Expect and ExpectClose.
const Timeout = 5 * time.Second

// Null stands for a JSON null ref in a [Msg]. A binary frame's empty
// join_ref also decodes to Null.
const Null = "<null>"

// Options configures Dial.
type Options struct {
	// Header is sent with the handshake request.
	Header http.Header
	// Subprotocols are offered in Sec-WebSocket-Protocol.
	Subprotocols []string
	// NoRead leaves the connection unread: the client never reads a frame,
	// so the server's writes pile up in the TCP buffers. For slow-consumer
	// tests; Expect cannot be used.
	NoRead bool
	// ReadBuffer, when positive, sets the TCP receive buffer (SO_RCVBUF).
	ReadBuffer int
}

// Client is one test WebSocket connection.
type Client struct {
	tb  testing.TB
	ws  *websocket.Conn // nil for a long-poll client.
	lp  *longPoll       // nil for a WebSocket client.
	v1  bool
	vsn string

	ref      int
	joinRef  int
	joinRefs map[string]string

	mu     sync.Mutex // Protects inbox and err.
	inbox  []Frame
	err    error         // Why reading ended.
	notify chan struct{} // One-slot wake-up for Expect.
	done   chan struct{} // Closed when the reader has ended.
}

// Frame is one raw frame received from the server.
type Frame struct {
	Data   []byte
	Binary bool
}

// Dial connects to url (http:// or ws://) and speaks the serializer named
// by vsn: V2 for "2.x.y", V1 otherwise. vsn must also be in url's query if
// the server is to see it; use [URL] to build one. It fails the test if the
// handshake fails.
func Dial(tb testing.TB, url, vsn string, opts *Options) *Client {
	tb.Helper()
	c, resp, err := DialErr(tb, url, vsn, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("wstest: dial %s: %v (HTTP %d)", url, err, status)
	}
	return c
}

// DialErr is Dial that returns the handshake error and response instead of
// failing the test.
func DialErr(tb testing.TB, url, vsn string, opts *Options) (*Client, *http.Response, error) {
	tb.Helper()
	if opts == nil {
		opts = &Options{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	d := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil && opts.ReadBuffer > 0 {
				if tc, ok := nc.(*net.TCPConn); ok {
					_ = tc.SetReadBuffer(opts.ReadBuffer)
				}
			}
			return nc, err
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		HTTPHeader:   opts.Header,
		Subprotocols: opts.Subprotocols,
	})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(-1)
	c := newClient(tb, vsn)
	c.ws = ws
	if opts.NoRead {
		close(c.done)
	} else {
		go c.readLoop()
	}
	tb.Cleanup(c.CloseNow)
	return c, resp, nil
}

func newClient(tb testing.TB, vsn string) *Client {
	return &Client{
		tb:       tb,
		v1:       !strings.HasPrefix(vsn, "2."),
		vsn:      vsn,
		joinRef:  10,
		joinRefs: map[string]string{},
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// URL returns base (an httptest server URL plus the mount, e.g.
// "http://127.0.0.1:1234/socket") with "/websocket" and the query: query
// (may be empty), then vsn when not empty.
func URL(base, query, vsn string) string {
	u := base + "/websocket"
	sep := "?"
	if query != "" {
		u += sep + query
		sep = "&"
	}
	if vsn != "" {
		u += sep + "vsn=" + vsn
	}
	return u
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if !c.receive(err, Frame{Data: data, Binary: typ == websocket.MessageBinary}) {
			return
		}
	}
}

// receive adds frames to the inbox, or records err as why reading ended,
// and wakes Next. It reports whether reading goes on.
func (c *Client) receive(err error, frames ...Frame) bool {
	c.mu.Lock()
	if err != nil {
		c.err = err
	} else {
		c.inbox = append(c.inbox, frames...)
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return err == nil
}

// Conn returns the underlying connection.
func (c *Client) Conn() *websocket.Conn { return c.ws }

// Subprotocol is the subprotocol the server chose.
func (c *Client) Subprotocol() string { return c.ws.Subprotocol() }

// V1 reports whether the client speaks vsn 1.0.0.
func (c *Client) V1() bool { return c.v1 }

// CloseNow closes the connection without a close handshake and waits for
// the reader. It is registered with tb.Cleanup by Dial.
// A long-poll client stops polling.
func (c *Client) CloseNow() {
	if c.lp != nil {
		c.lp.stop()
	} else {
		_ = c.ws.CloseNow()
	}
	<-c.done
}

// Close closes the connection with a close handshake (code 1000). A
// long-poll client stops polling, and its session ends on the server once
// the poll window has passed 1.5 times.
func (c *Client) Close() {
	if c.lp != nil {
		c.CloseNow()
		return
	}
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

// SendText sends s as one text frame.
func (c *Client) SendText(s string) {
	c.tb.Helper()
	c.write(websocket.MessageText, []byte(s))
}

// SendBytes sends b as one frame, binary or text.
func (c *Client) SendBytes(b []byte, binary bool) {
	c.tb.Helper()
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	c.write(typ, b)
}

func (c *Client) write(typ websocket.MessageType, b []byte) {
	c.tb.Helper()
	if c.lp != nil {
		if err := c.lp.publish(b, typ == websocket.MessageBinary); err != nil {
			c.tb.Fatalf("wstest: long-poll publish: %v", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.tb.Fatalf("wstest: write: %v", err)
	}
}

// Send sends a message in the client's serializer. joinRef and ref are nil
// (null), a string or a number; payload is JSON text. A V1 client sends
// join_ref only when joinRef is not nil.
func (c *Client) Send(joinRef, ref any, topic, event, payload string) {
	c.tb.Helper()
	c.SendText(Encode(c.v1, joinRef, ref, topic, event, payload))
}

// Encode returns a V1 object or a V2 array frame.
func Encode(v1 bool, joinRef, ref any, topic, event, payload string) string {
	if payload == "" {
		payload = "{}"
	}
	if v1 {
		var b bytes.Buffer
		b.WriteString(`{"topic":` + quote(topic) + `,"event":` + quote(event) + `,"payload":` + payload + `,"ref":` + refJSON(ref))
		if joinRef != nil {
			b.WriteString(`,"join_ref":` + refJSON(joinRef))
		}
		b.WriteString("}")
		return b.String()
	}
	return "[" + refJSON(joinRef) + "," + refJSON(ref) + "," + quote(topic) + "," + quote(event) + "," + payload + "]"
}

// BinaryPush returns a client binary push (kind 0).
func BinaryPush(joinRef, ref, topic, event string, payload []byte) []byte {
	b := []byte{0, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(event))}
	b = append(b, joinRef...)
	b = append(b, ref...)
	b = append(b, topic...)
	b = append(b, event...)
	return append(b, payload...)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func refJSON(r any) string {
	switch r := r.(type) {
	case nil:
		return "null"
	case string:
		return quote(r)
	default:
		b, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
}

// NextRef returns the next ref: "1", "2", ...
func (c *Client) NextRef() string {
	c.ref++
	return strconv.Itoa(c.ref)
}

func (c *Client) nextJoinRef() string {
	c.joinRef++
	return strconv.Itoa(c.joinRef)
}

// Join sends phx_join for topic with payload (JSON text, "" for {}), and
// returns the join_ref and the ref it used. A V1 client does not send the
// join_ref.
func (c *Client) Join(topic, payload string) (joinRef, ref string) {
	c.tb.Helper()
	joinRef, ref = c.nextJoinRef(), c.NextRef()
	c.joinRefs[topic] = joinRef
	c.Send(c.wireJoinRef(joinRef), ref, topic, "phx_join", payload)
	return joinRef, ref
}

// Push sends event on topic with the topic's last join_ref and a new ref,
// and returns the ref.
func (c *Client) Push(topic, event, payload string) (ref string) {
	c.tb.Helper()
	ref = c.NextRef()
	c.Send(c.wireJoinRef(c.joinRefs[topic]), ref, topic, event, payload)
	return ref
}

// Leave sends phx_leave on topic and returns its ref.
func (c *Client) Leave(topic string) (ref string) {
	c.tb.Helper()
	return c.Push(topic, "phx_leave", "{}")
}

// Heartbeat sends a heartbeat on topic "phoenix" and returns its ref.
func (c *Client) Heartbeat() (ref string) {
	c.tb.Helper()
	ref = c.NextRef()
	c.Send(nil, ref, "phoenix", "heartbeat", "{}")
	return ref
}

// JoinRef returns the last join_ref used on topic.
func (c *Client) JoinRef(topic string) string { return c.joinRefs[topic] }

func (c *Client) wireJoinRef(jr string) any {
	if c.v1 || jr == "" {
		return nil
	}
	return jr
}

// Next waits up to d for the next frame. ok is false when none came, or
// the connection ended first.
func (c *Client) Next(d time.Duration) (f Frame, ok bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.inbox) > 0 {
			f = c.inbox[0]
			c.inbox = c.inbox[1:]
			c.mu.Unlock()
			return f, true
		}
		ended := c.err != nil
		c.mu.Unlock()
		if ended {
			return Frame{}, false
		}
		select {
		case <-c.notify:
		case <-timer.C:
			return Frame{}, false
		}
	}
}

// Msg is a decoded server frame.
type Msg struct {
	// JoinRef and Ref are the refs: a JSON string's text, a number's
	// digits, or Null.
	JoinRef string
	Ref     string
	Topic   string
	Event   string
	// Payload is the JSON text of the payload (compared as JSON, so key
	// order and spacing do not matter), or the raw payload of a binary frame.
	Payload string
	// Binary is set for a binary WebSocket frame.
	Binary bool
	// Status is the status of a binary reply (kind 1).
	Status string
}

func (m Msg) String() string {
	if m.Binary {
		return fmt.Sprintf("binary[%s %s %q %q status=%q % x]", m.JoinRef, m.Ref, m.Topic, m.Event, m.Status, m.Payload)
	}
	return fmt.Sprintf("[%s %s %q %q %s]", m.JoinRef, m.Ref, m.Topic, m.Event, m.Payload)
}

// M builds an expected text message.
func M(joinRef, ref, topic, event, payload string) Msg {
	return Msg{JoinRef: joinRef, Ref: ref, Topic: topic, Event: event, Payload: payload}
}

// Reply builds an expected text phx_reply.
func Reply(joinRef, ref, topic, status, response string) Msg {
	return M(joinRef, ref, topic, "phx_reply", `{"status":`+quote(status)+`,"response":`+response+`}`)
}

// Decode decodes a frame sent to a V1 or V2 client. A V1 frame must be an
// object with exactly the keys topic, event, payload and ref: a V1 client
// is never sent join_ref.
func Decode(v1 bool, f Frame) (Msg, error) {
	if f.Binary {
		if v1 {
			return Msg{}, errors.New("wstest: binary frame sent to a V1 client")
		}
		return decodeBinary(f.Data)
	}
	if v1 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(f.Data, &obj); err != nil {
			return Msg{}, fmt.Errorf("wstest: V1 frame is not a JSON object: %s", f.Data)
		}
		if len(obj) != 4 || obj["topic"] == nil || obj["event"] == nil || obj["payload"] == nil || obj["ref"] == nil {
			return Msg{}, fmt.Errorf("wstest: V1 frame must have exactly topic, event, payload and ref: %s", f.Data)
		}
		m := Msg{JoinRef: Null, Payload: string(obj["payload"])}
		if err := json.Unmarshal(obj["topic"], &m.Topic); err != nil {
			return Msg{}, fmt.Errorf("wstest: V1 topic: %s", f.Data)
		}
		if err := json.Unmarshal(obj["event"], &m.Event); err != nil {
			return Msg{}, fmt.Errorf("wstest: V1 event: %s", f.Data)
		}
		var err error
		if m.Ref, err = decodeRef(obj["ref"]); err != nil {
			return Msg{}, err
		}
		return m, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(f.Data, &arr); err != nil || len(arr) != 5 {
		return Msg{}, fmt.Errorf("wstest: V2 frame is not a 5-element JSON array: %s", f.Data)
	}
	var m Msg
	var err error
	if m.JoinRef, err = decodeRef(arr[0]); err != nil {
		return Msg{}, err
	}
	if m.Ref, err = decodeRef(arr[1]); err != nil {
		return Msg{}, err
	}
	if json.Unmarshal(arr[2], &m.Topic) != nil || json.Unmarshal(arr[3], &m.Event) != nil {
		return Msg{}, fmt.Errorf("wstest: V2 topic and event must be strings: %s", f.Data)
	}
	m.Payload = string(arr[4])
	return m, nil
}

func decodeRef(raw json.RawMessage) (string, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("wstest: bad ref %s", raw)
	}
	switch v := v.(type) {
	case nil:
		return Null, nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("wstest: ref is neither null, a string nor a number: %s", raw)
}

// decodeBinary decodes the server's binary frames (docs/protocol.md, "V2 binary frames").
func decodeBinary(b []byte) (Msg, error) {
	short := fmt.Errorf("wstest: truncated binary frame % x", b)
	if len(b) == 0 {
		return Msg{}, short
	}
	var fields []string
	var n int
	switch b[0] {
	case 0:
		n = 3 // join_ref, topic, event
	case 1:
		n = 4 // join_ref, ref, topic, status
	case 2:
		n = 2 // topic, event
	default:
		return Msg{}, fmt.Errorf("wstest: unknown binary kind %d", b[0])
	}
	if len(b) < 1+n {
		return Msg{}, short
	}
	off := 1 + n
	for i := range n {
		l := int(b[1+i])
		if len(b) < off+l {
			return Msg{}, short
		}
		fields = append(fields, string(b[off:off+l]))
		off += l
	}
	m := Msg{Binary: true, JoinRef: Null, Ref: Null, Payload: string(b[off:])}
	orNull := func(s string) string {
		if s == "" {
			return Null
		}
		return s
	}
	switch b[0] {
	case 0:
		m.JoinRef, m.Topic, m.Event = orNull(fields[0]), fields[1], fields[2]
	case 1:
		m.JoinRef, m.Ref, m.Topic, m.Event, m.Status = orNull(fields[0]), fields[1], fields[2], "phx_reply", fields[3]
	case 2:
		m.Topic, m.Event = fields[0], fields[1]
	}
	return m, nil
}

// Read waits for the next frame and decodes it, failing the test if none
// comes within Timeout or it does not decode.
func (c *Client) Read() Msg {
	c.tb.Helper()
	f, ok := c.Next(Timeout)
	if !ok {
		c.tb.Fatalf("wstest: no frame within %v (connection: %v)", Timeout, c.readErr())
	}
	m, err := Decode(c.v1, f)
	if err != nil {
		c.tb.Fatal(err)
	}
	return m
}

// Expect reads the next frame and fails the test unless it equals want.
func (c *Client) Expect(want Msg) Msg {
	c.tb.Helper()
	got := c.Read()
	if !Equal(got, want) {
		c.tb.Fatalf("wstest: unexpected frame\n got: %v\nwant: %v", got, want)
	}
	return got
}

// ExpectAll reads len(want) frames and fails the test unless they are want
// in some order (for frames whose relative order is not specified).
func (c *Client) ExpectAll(want ...Msg) {
	c.tb.Helper()
	left := append([]Msg(nil), want...)
next:
	for range want {
		got := c.Read()
		for i, w := range left {
			if Equal(got, w) {
				left = append(left[:i], left[i+1:]...)
				continue next
			}
		}
		c.tb.Fatalf("wstest: unexpected frame\n got: %v\nwant one of: %v", got, left)
	}
}

// Equal reports whether two messages are equal, comparing JSON payloads as
// JSON values.
func Equal(got, want Msg) bool {
	if got.JoinRef != want.JoinRef || got.Ref != want.Ref || got.Topic != want.Topic ||
		got.Event != want.Event || got.Binary != want.Binary || got.Status != want.Status {
		return false
	}
	if got.Binary {
		return got.Payload == want.Payload
	}
	return JSONEqual(got.Payload, want.Payload)
}

// JSONEqual reports whether a and b are the same JSON value.
func JSONEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// ExpectNone fails the test if a frame arrives within d. It is an
// assertion of absence, not a way to wait: prefer ordering (a later reply
// that must come first) where the protocol allows it.
func (c *Client) ExpectNone(d time.Duration) {
	c.tb.Helper()
	if f, ok := c.Next(d); ok {
		m, err := Decode(c.v1, f)
		if err != nil {
			c.tb.Fatalf("wstest: unexpected frame %q", f.Data)
		}
		c.tb.Fatalf("wstest: unexpected frame %v", m)
	}
}

// ExpectClose waits up to Timeout for the connection to end and fails the
// test unless the server closed it with code. Frames still in the inbox are
// ignored.
func (c *Client) ExpectClose(code websocket.StatusCode) {
	c.tb.Helper()
	if c.lp != nil {
		c.tb.Fatal("wstest: ExpectClose on a long-poll client; use ExpectGone")
	}
	err := c.Wait(Timeout)
	if err == nil {
		c.tb.Fatalf("wstest: connection not closed within %v", Timeout)
	}
	if got := websocket.CloseStatus(err); got != code {
		c.tb.Fatalf("wstest: close status %v, want %v (%v)", got, code, err)
	}
}

// Wait waits up to d for the connection to end and returns why, or nil if
// it is still open.
func (c *Client) Wait(d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		return nil
	}
	return c.readErr()
}

func (c *Client) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
