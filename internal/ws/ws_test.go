package ws_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/internal/ws"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var discard = slog.New(slog.DiscardHandler)

// inbound is one message the server's handler got.
type inbound struct {
	data   string
	binary bool
}

// wsServer accepts one WebSocket per request with opts and runs it with
// handle (nil: record and continue). The test drives the server side
// through conns.
type wsServer struct {
	ts      *httptest.Server
	conns   chan *ws.Conn
	reasons chan transport.CloseReason // What Run returned.
	in      chan inbound
}

func newWSServer(t *testing.T, opts ws.Options, handle ws.Handler) *wsServer {
	t.Helper()
	s := &wsServer{
		conns:   make(chan *ws.Conn, 1),
		reasons: make(chan transport.CloseReason, 1),
		in:      make(chan inbound, 1024),
	}
	opts.Logger = discard
	if handle == nil {
		handle = func(data []byte, binary bool) *transport.CloseReason {
			s.in <- inbound{string(data), binary}
			return nil
		}
	}
	done := make(chan struct{})
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := ws.Accept(w, r, &opts)
		if err != nil {
			return
		}
		s.conns <- ws
		s.reasons <- ws.Run(handle)
		close(done)
	}))
	t.Cleanup(func() {
		s.ts.Close()
		// Wait for Run to return; the clients' cleanups, which ran first,
		// closed the connections.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5 s of the test's end")
		}
	})
	return s
}

func (s *wsServer) dial(t *testing.T, opts *wstest.Options) (*wstest.Client, *ws.Conn) {
	t.Helper()
	c := wstest.Dial(t, s.ts.URL, "2.0.0", opts)
	return c, s.conn(t)
}

// conn returns the server's side of the connection just dialled.
func (s *wsServer) conn(t *testing.T) *ws.Conn {
	t.Helper()
	select {
	case conn := <-s.conns:
		return conn
	case <-time.After(5 * time.Second):
		t.Fatal("no server connection")
		return nil
	}
}

func (s *wsServer) reason(t *testing.T) transport.CloseReason {
	t.Helper()
	select {
	case r := <-s.reasons:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s")
		return transport.CloseReason{}
	}
}

// next returns the next raw frame the client got.
func next(t *testing.T, c *wstest.Client) wstest.Frame {
	t.Helper()
	f, ok := c.Next(wstest.Timeout)
	if !ok {
		t.Fatalf("no frame within %v", wstest.Timeout)
	}
	return f
}

func text(s string) protocol.Frame { return protocol.Frame{Data: []byte(s)} }

func TestSendAndReceive(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{}, nil)
	c, ws := s.dial(t, nil)

	c.SendText("hello")
	c.SendBytes([]byte{0, 1, 2}, true)
	for _, want := range []inbound{{"hello", false}, {"\x00\x01\x02", true}} {
		if got := <-s.in; got != want {
			t.Fatalf("handler got %+v, want %+v", got, want)
		}
	}

	if !ws.Send(text("one")) || !ws.Send(protocol.Frame{Data: []byte{9, 8}, Binary: true}) {
		t.Fatal("Send on an open connection returned false")
	}
	if f := next(t, c); string(f.Data) != "one" || f.Binary {
		t.Fatalf("got %q binary=%v", f.Data, f.Binary)
	}
	if f := next(t, c); !bytes.Equal(f.Data, []byte{9, 8}) || !f.Binary {
		t.Fatalf("got %q binary=%v", f.Data, f.Binary)
	}

	// The client closes: Run returns CloseNormal and Send reports false.
	c.Close()
	if r := s.reason(t); r != transport.CloseNormal {
		t.Fatalf("Run returned %v, want CloseNormal", r)
	}
	if ws.Send(text("late")) {
		t.Fatal("Send after the connection ended returned true")
	}
}

// Close writes the frames already queued, then the close frame.
func TestCloseAfterQueuedFrames(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{}, nil)
	c, ws := s.dial(t, nil)
	const n = 500
	for i := range n {
		if !ws.Send(text(fmt.Sprintf("frame %d %s", i, strings.Repeat("x", 100)))) {
			t.Fatalf("Send %d returned false", i)
		}
	}
	ws.Close(transport.CloseShutdown)
	ws.Close(transport.CloseDisconnect) // Only the first reason counts.
	if ws.Send(text("after close")) {
		t.Fatal("Send after Close returned true")
	}
	for i := range n {
		f := next(t, c)
		if want := fmt.Sprintf("frame %d ", i); !strings.HasPrefix(string(f.Data), want) {
			t.Fatalf("frame %d: got %.20q", i, f.Data)
		}
	}
	c.ExpectClose(websocket.StatusServiceRestart)
	if r := s.reason(t); r != transport.CloseShutdown {
		t.Fatalf("Run returned %v, want CloseShutdown", r)
	}
}

func TestHandlerCloseReason(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{}, func(data []byte, _ bool) *transport.CloseReason {
		if string(data) == "bad" {
			r := transport.CloseDecodeError
			return &r
		}
		return nil
	})
	c, ws := s.dial(t, nil)
	ws.Send(text("before"))
	c.SendText("ok")
	c.SendText("bad")
	if f := next(t, c); string(f.Data) != "before" {
		t.Fatalf("got %q", f.Data)
	}
	c.ExpectClose(websocket.StatusInternalError)
	if r := s.reason(t); r != transport.CloseDecodeError {
		t.Fatalf("Run returned %v, want CloseDecodeError", r)
	}
}

func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{}, nil)
	c, _ := s.dial(t, nil)
	c.SendBytes([]byte("ok\xff"), false)
	c.ExpectClose(websocket.StatusInvalidFramePayloadData)
	if r := s.reason(t); r != transport.CloseInvalidUTF8 {
		t.Fatalf("Run returned %v, want CloseInvalidUTF8", r)
	}
	// Invalid UTF-8 is fine in a binary message.
	s2 := newWSServer(t, ws.Options{}, nil)
	c2, _ := s2.dial(t, nil)
	c2.SendBytes([]byte("ok\xff"), true)
	if got := <-s2.in; got.data != "ok\xff" || !got.binary {
		t.Fatalf("handler got %+v", got)
	}
}

func TestMaxFrameSize(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{MaxFrameSize: 100}}, nil)
	c, _ := s.dial(t, nil)
	c.SendText(strings.Repeat("a", 100))
	if got := <-s.in; len(got.data) != 100 {
		t.Fatalf("handler got %d bytes", len(got.data))
	}
	c.SendText(strings.Repeat("a", 101))
	c.ExpectClose(websocket.StatusMessageTooBig)
	s.reason(t)
	select {
	case got := <-s.in:
		t.Fatalf("the handler got the oversized message (%d bytes)", len(got.data))
	default:
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{IdleTimeout: 50 * time.Millisecond}}, nil)
	c, _ := s.dial(t, nil)
	c.ExpectClose(websocket.StatusNormalClosure)
	if r := s.reason(t); r != transport.CloseIdle {
		t.Fatalf("Run returned %v, want CloseIdle", r)
	}
}

func TestSubprotocolEchoed(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{Subprotocol: "phoenix"}, nil)
	c, _ := s.dial(t, &wstest.Options{Subprotocols: []string{"phoenix", "other"}})
	if got := c.Subprotocol(); got != "phoenix" {
		t.Fatalf("subprotocol %q, want phoenix", got)
	}
}

func TestAcceptFailure(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil) // No upgrade headers.
	w := httptest.NewRecorder()
	if ws, err := ws.Accept(w, r, nil); err == nil || ws != nil {
		t.Fatalf("AcceptWebSocket of a plain GET = %v, %v", ws, err)
	}
	if w.Code < 400 {
		t.Fatalf("status %d, want an error status", w.Code)
	}
}

// A frame larger than the whole queue is accepted when the queue is empty.
func TestLargeFrameOnEmptyQueue(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{QueueBytes: 1024}}, nil)
	c, ws := s.dial(t, nil)
	big := strings.Repeat("b", 10_000)
	if !ws.Send(text(big)) {
		t.Fatal("Send of a large frame on an empty queue returned false")
	}
	if f := next(t, c); string(f.Data) != big {
		t.Fatalf("got %d bytes", len(f.Data))
	}
}

// A client that does not read: the queue overflows, Send reports false at
// once (it never blocks) and the connection is cut with CloseSlowConsumer.
func TestSendQueueOverflow(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{QueueBytes: 16 << 10}}, nil)
	_, ws := s.dial(t, &wstest.Options{NoRead: true, ReadBuffer: 4096})
	frame := text(strings.Repeat("s", 4<<10))
	const maxSends = 50_000 // 200 MB: far more than any socket buffers.
	start := time.Now()
	sent := 0
	for ws.Send(frame) {
		sent++
		if sent == maxSends {
			t.Fatalf("Send still accepting after %d frames", sent)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("%d Sends took %v: Send blocked", sent, d)
	}
	if r := s.reason(t); r != transport.CloseSlowConsumer {
		t.Fatalf("Run returned %v, want CloseSlowConsumer", r)
	}
	if ws.Send(frame) {
		t.Fatal("Send after the overflow returned true")
	}
	ws.Close(transport.CloseShutdown) // Ignored, must not block or panic.
	t.Logf("overflow after %d frames of %d bytes", sent, len(frame.Data))
}

// Send and Close from many goroutines while the writer runs (-race).
func TestConcurrentSendClose(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{}, nil)
	c, ws := s.dial(t, nil)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				if !ws.Send(text(fmt.Sprintf("%d-%d", g, i))) {
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	ws.Close(transport.CloseShutdown)
	c.ExpectClose(websocket.StatusServiceRestart)
	if r := s.reason(t); r != transport.CloseShutdown {
		t.Fatalf("Run returned %v", r)
	}
	// Each goroutine's frames arrive in its order, none lost.
	last := map[string]int{}
	n := 0
	for f, ok := c.Next(0); ok; f, ok = c.Next(0) {
		g, i, _ := strings.Cut(string(f.Data), "-")
		var seq int
		fmt.Sscan(i, &seq)
		if prev, seen := last[g]; seen && seq != prev+1 || !seen && seq != 0 {
			t.Fatalf("goroutine %s: frame %d after %d", g, seq, prev)
		}
		last[g] = seq
		n++
	}
	if n != 800 {
		t.Fatalf("got %d frames, want 800", n)
	}
}
