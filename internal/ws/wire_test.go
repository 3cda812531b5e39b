package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/ws"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// rawClient speaks WebSocket over a plain TCP connection and reads the
// server's frames byte for byte: the tests of the write path check the
// exact bytes on the wire.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	wm sync.Mutex
}

// rawFrame is one frame as it came on the wire.
type rawFrame struct {
	fin    bool
	opcode byte
	data   []byte
	head   []byte // The header bytes.
}

func dialRaw(t *testing.T, s *wsServer, rcvbuf int) (*rawClient, *ws.Conn) {
	t.Helper()
	d := net.Dialer{}
	nc, err := d.Dial("tcp", strings.TrimPrefix(s.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if rcvbuf > 0 {
		_ = nc.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	t.Cleanup(func() { nc.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: HTTP %d", resp.StatusCode)
	}
	return &rawClient{t: t, nc: nc, br: br}, s.conn(t)
}

// next reads one frame; it fails the test on an error or after 10 s.
func (c *rawClient) next() rawFrame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (c *rawClient) read() (rawFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0f, head: h[:]}
	if h[0]&0x70 != 0 || h[1]&0x80 != 0 {
		return f, fmt.Errorf("reserved bits or mask set: % x", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		f.head = append(f.head, b[:]...)
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		f.head = append(f.head, b[:]...)
		n = binary.BigEndian.Uint64(b[:])
	}
	f.data = make([]byte, n)
	_, err := io.ReadFull(c.br, f.data)
	return f, err
}

// send writes one masked frame.
func (c *rawClient) send(opcode byte, p []byte) error {
	b := []byte{0x80 | opcode}
	switch {
	case len(p) <= 125:
		b = append(b, 0x80|byte(len(p)))
	case len(p) <= 0xffff:
		b = append(b, 0x80|126, byte(len(p)>>8), byte(len(p)))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	mask := [4]byte{1, 2, 3, 4}
	b = append(b, mask[:]...)
	for i, x := range p {
		b = append(b, x^mask[i%4])
	}
	c.wm.Lock()
	defer c.wm.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// wantHeader is the header RFC 6455 gives a final, unmasked frame.
func wantHeader(opcode byte, n int) []byte {
	b := []byte{0x80 | opcode}
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i))%26
	}
	return b
}

// expectAfters reads the text frames "after 0" to "after n-1", in order,
// and the pong of the ping "mid", between two of them or after the last.
func (c *rawClient) expectAfters(n int) {
	c.t.Helper()
	pong := false
	for i := 0; i < n; {
		f := c.next()
		if f.opcode == 0xA && string(f.data) == "mid" && !pong {
			pong = true
			continue
		}
		if f.opcode != 1 || string(f.data) != fmt.Sprintf("after %d", i) {
			c.t.Fatalf("frame %d: opcode %d, %.40q", i, f.opcode, f.data)
		}
		i++
	}
	if !pong {
		if f := c.next(); f.opcode != 0xA || string(f.data) != "mid" {
			c.t.Fatalf("no pong: opcode %d, %.40q", f.opcode, f.data)
		}
	}
}

// writeMode is one way a frame is written.
type writeMode struct {
	name string
	opts func(*ws.Options)
	// batch: frames are sent as a broadcast's fan-out sends them, with
	// SendBatch, and flushed every few frames.
	batch bool
}

// writeModes are the ways a frame is written: straight from Send when
// nothing waits (Linux), through the writer alone, copying a batch into
// one buffer (other systems, TLS), and left queued by a fan-out until
// its batch is flushed.
var writeModes = []writeMode{
	{name: "direct", opts: func(*ws.Options) {}},
	{name: "writer", opts: ws.NoDirect},
	{name: "batch", opts: func(*ws.Options) {}, batch: true},
}

// dial starts a server that writes in this mode, with a queue bound of
// 64 MiB, and connects a raw client to it.
func (m writeMode) dial(t *testing.T) (*wsServer, *rawClient, *ws.Conn) {
	t.Helper()
	o := ws.Options{WebSocketOptions: transport.WebSocketOptions{QueueBytes: 64 << 20}}
	m.opts(&o)
	s := newWSServer(t, o, nil)
	c, conn := dialRaw(t, s, 0)
	return s, c, conn
}

// dialDirect is writeModes[0].dial for a test of direct writes: it skips
// the test where the system has none.
func dialDirect(t *testing.T) (*rawClient, *ws.Conn) {
	t.Helper()
	_, c, conn := writeModes[0].dial(t)
	if !ws.Direct(conn) {
		t.Skip("no direct writes on this system")
	}
	return c, conn
}

// sender returns what one goroutine of a test sends with, and the flush
// of what it may have left waiting, which it must call before it reads
// what it sent or ends.
func (m writeMode) sender(conn *ws.Conn) (send func(protocol.Frame) bool, flush func()) {
	if !m.batch {
		return conn.Send, func() {}
	}
	var b *sendbatch.Batch
	n := 0
	flush = func() {
		if b != nil {
			b.Flush()
			b = nil
		}
	}
	send = func(f protocol.Frame) bool {
		if b == nil {
			b = sendbatch.Get()
		}
		ok := conn.SendBatch(f, b)
		if n++; n%3 == 0 {
			flush()
		}
		return ok
	}
	return send, flush
}

// Every length class of the header (7-bit, 16-bit, 64-bit), text and
// binary, comes out byte for byte as RFC 6455 frames it.
func TestWireBytes(t *testing.T) {
	t.Parallel()
	for _, m := range writeModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			var o ws.Options
			m.opts(&o)
			s := newWSServer(t, o, nil)
			c, conn := dialRaw(t, s, 0)
			if want := m.name != "writer"; ws.Direct(conn) != want {
				t.Fatalf("direct writes: %v, want %v", ws.Direct(conn), want)
			}
			send, flush := m.sender(conn)
			sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 200_000}
			for i, n := range sizes {
				p := payload(n, byte(i))
				bin := i%2 == 1
				if !send(protocol.Frame{Data: p, Binary: bin}) {
					t.Fatalf("Send of %d bytes refused", n)
				}
				flush()
				op := byte(1)
				if bin {
					op = 2
				}
				f := c.next()
				if !bytes.Equal(f.head, wantHeader(op, n)) {
					t.Fatalf("%d bytes: header % x, want % x", n, f.head, wantHeader(op, n))
				}
				if !bytes.Equal(f.data, p) {
					t.Fatalf("%d bytes: payload differs", n)
				}
			}
		})
	}
}

// A client that does not read: a direct write that the socket takes
// only in part, or not at all, leaves the rest first in the queue, and
// the frames sent after it follow it whole and in order once the client
// reads.
func TestPartialWriteFallsBackToQueue(t *testing.T) {
	t.Parallel()
	c, conn := dialDirect(t)
	big := payload(32<<20, 7) // More than the socket buffers take at once.
	if !conn.Send(protocol.Frame{Data: big}) {
		t.Fatal("Send refused")
	}
	// The rest waits first in the queue, unless the writer has taken it
	// already: either way the writer holds the write side, blocked until
	// the client reads.
	frames, off := ws.Queued(conn)
	if frames == 0 && !ws.Writing(conn) || frames > 0 && (frames != 1 || off <= 0) {
		t.Fatalf("after a partial direct write: %d frames queued, %d bytes written of the first, writer %v; want the rest queued or with the writer",
			frames, off, ws.Writing(conn))
	}
	// A ping meanwhile: its pong must wait for the end of the large frame.
	if err := c.send(0x9, []byte("mid")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // The server reads the ping.
	const n = 200
	for i := range n {
		if !conn.Send(text(fmt.Sprintf("after %d", i))) {
			t.Fatalf("Send %d refused", i)
		}
	}
	if f := c.next(); !bytes.Equal(f.data, big) || !bytes.Equal(f.head, wantHeader(1, len(big))) {
		t.Fatalf("the large frame came back changed (%d bytes, opcode %d)", len(f.data), f.opcode)
	}
	c.expectAfters(n)
	// Idle again: the next frame is written straight, nothing queued.
	if !conn.Send(text("idle")) {
		t.Fatal("Send refused")
	}
	if frames, _ := ws.Queued(conn); frames != 0 {
		t.Fatalf("%d frames queued on an idle connection", frames)
	}
	if f := c.next(); string(f.data) != "idle" {
		t.Fatalf("got %q", f.data)
	}
}

// Pings answered while data frames flow, from several goroutines, some
// written directly, some queued: every frame arrives whole (control
// frames only between data frames), each goroutine's frames in order, and
// every ping gets its pong.
func TestControlFramesBetweenDataFrames(t *testing.T) {
	t.Parallel()
	for _, m := range writeModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			_, c, conn := m.dial(t)
			const senders, each, pings = 4, 300, 50
			const size = 30_000 // 18 MB in all: more than the socket buffers.
			var wg sync.WaitGroup
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					send, flush := m.sender(conn)
					defer flush()
					for i := range each {
						p := fmt.Appendf(nil, "%d-%d-", g, i)
						p = append(p, payload(10+(i*37)%size, byte(i))...)
						if !send(protocol.Frame{Data: p}) {
							t.Errorf("Send %d-%d refused", g, i)
							return
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range pings {
					if err := c.send(0x9, fmt.Appendf(nil, "ping %d", i)); err != nil {
						return // The test has failed and closed the connection.
					}
					time.Sleep(time.Millisecond)
				}
			}()
			time.Sleep(100 * time.Millisecond) // Frames back up meanwhile.
			last := make([]int, senders)
			for i := range last {
				last[i] = -1
			}
			data, pongs := 0, 0
			for data < senders*each || pongs < pings {
				f := c.next()
				switch f.opcode {
				case 0xA:
					if want := fmt.Sprintf("ping %d", pongs); string(f.data) != want {
						t.Fatalf("pong %q, want %q", f.data, want)
					}
					pongs++
				case 0x1:
					var g, i int
					if _, err := fmt.Sscanf(string(f.data), "%d-%d-", &g, &i); err != nil {
						t.Fatalf("a data frame that is not one of ours (%d bytes): %.40q", len(f.data), f.data)
					}
					prefix := fmt.Sprintf("%d-%d-", g, i)
					if !bytes.Equal(f.data[len(prefix):], payload(10+(i*37)%size, byte(i))) {
						t.Fatalf("frame %s: payload changed", prefix)
					}
					if i != last[g]+1 {
						t.Fatalf("sender %d: frame %d after %d", g, i, last[g])
					}
					last[g] = i
					data++
				default:
					t.Fatalf("unexpected opcode %d", f.opcode)
				}
			}
			wg.Wait()
		})
	}
}

// Close while other goroutines write (directly or through the queue):
// the frames the connection accepted come whole and in order, then the
// close frame, and nothing after it.
func TestCloseDuringDirectWrites(t *testing.T) {
	t.Parallel()
	for _, m := range writeModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s, c, conn := m.dial(t)
			const senders = 4
			accepted := make([]int, senders)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					send, flush := m.sender(conn)
					defer flush()
					<-start
					for i := 0; ; i++ {
						p := fmt.Appendf(nil, "%d-%d-", g, i)
						p = append(p, payload(100+(i*53)%2000, byte(i))...)
						if !send(protocol.Frame{Data: p}) {
							return
						}
						accepted[g] = i + 1
					}
				}()
			}
			close(start)
			time.Sleep(5 * time.Millisecond)
			conn.Close(transport.CloseShutdown)
			wg.Wait()
			got := make([]int, senders)
			for {
				f := c.next()
				if f.opcode == 0x8 {
					if code := binary.BigEndian.Uint16(f.data); code != 1012 {
						t.Fatalf("close code %d", code)
					}
					break
				}
				var g, i int
				if _, err := fmt.Sscanf(string(f.data), "%d-%d-", &g, &i); err != nil || f.opcode != 1 {
					t.Fatalf("a frame that is not one of ours: opcode %d, %.40q", f.opcode, f.data)
				}
				if i != got[g] {
					t.Fatalf("sender %d: frame %d, want %d", g, i, got[g])
				}
				got[g]++
			}
			for g := range senders {
				if got[g] != accepted[g] {
					t.Fatalf("sender %d: %d frames accepted, %d arrived before the close frame", g, accepted[g], got[g])
				}
			}
			if err := c.send(0x8, []byte{0x03, 0xf4}); err != nil { // The client's close: 1012.
				t.Fatal(err)
			}
			if f, err := c.read(); err == nil {
				t.Fatalf("a frame after the close frame: opcode %d, %.40q", f.opcode, f.data)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("after the close frame: %v, want EOF", err)
			}
			if r := s.reason(t); r != transport.CloseShutdown {
				t.Fatalf("Run returned %v", r)
			}
		})
	}
}

// The client closes first while data flows: the server's close frame
// answers it, and no data frame follows that close frame.
func TestNoDataAfterCloseReply(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{QueueBytes: 64 << 20}}, nil)
	c, conn := dialRaw(t, s, 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if !conn.Send(text(fmt.Sprintf("data %d", i))) {
				return
			}
		}
	}()
	time.Sleep(5 * time.Millisecond)
	if err := c.send(0x8, []byte{0x03, 0xe8}); err != nil { // 1000
		t.Fatal(err)
	}
	for {
		f := c.next()
		if f.opcode == 0x8 {
			break
		}
		if f.opcode != 1 || !strings.HasPrefix(string(f.data), "data ") {
			t.Fatalf("opcode %d, %.40q", f.opcode, f.data)
		}
	}
	if f, err := c.read(); err == nil {
		t.Fatalf("a frame after the close frame: opcode %d, %.40q", f.opcode, f.data)
	}
	close(stop)
	wg.Wait()
	if r := s.reason(t); r != transport.CloseNormal {
		t.Fatalf("Run returned %v", r)
	}
}

// With permessage-deflate negotiated, coder/websocket frames and
// compresses every message; without it offered, Pyre frames them.
func TestCompression(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{Compress: true}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.ts.URL, &websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	conn := s.conn(t)
	if ws.Direct(conn) {
		t.Fatal("direct writes with permessage-deflate")
	}
	big := strings.Repeat("compressible ", 1000)
	for i := range 50 {
		if !conn.Send(text(fmt.Sprintf("%d %s", i, big))) {
			t.Fatalf("Send %d refused", i)
		}
	}
	for i := range 50 {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d %s", i, big); string(b) != want {
			t.Fatalf("message %d: %.30q", i, b)
		}
	}
	conn.Close(transport.CloseShutdown)
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusServiceRestart {
		t.Fatalf("read after Close: %v", err)
	}
	if r := s.reason(t); r != transport.CloseShutdown {
		t.Fatalf("Run returned %v", r)
	}

	// A client that offers no compression: Pyre frames.
	s2 := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{Compress: true}}, nil)
	_, conn2 := dialRaw(t, s2, 0)
	if !ws.Direct(conn2) {
		t.Fatal("no direct writes without permessage-deflate")
	}
}
