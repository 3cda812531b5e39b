// Package ws is Pyre's WebSocket connection, on github.com/coder/websocket:
// one reader (the goroutine that calls Run) and one writer that drains a
// byte-bounded queue, and the cut of a client that is slow or stalled.
package ws

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// Defaults of [Options].
const (
	DefaultMaxFrameSize = 10_000_000
	DefaultIdleTimeout  = 60 * time.Second
	DefaultQueueBytes   = 1 << 20
	DefaultStallTimeout = 4 * time.Second
)

// Options configures one connection. The zero value uses every default.
type Options struct {
	transport.WebSocketOptions
	// Subprotocol is echoed in the handshake when not empty.
	Subprotocol string
	// Logger receives the connection's log lines. nil means slog.Default().
	Logger *slog.Logger
	// OnWrite, when set, is told of every batch of frames written.
	OnWrite func(frames, bytes int)
	// WriteDeadlines finds stalls with write deadlines even where the
	// kernel could (TCP_USER_TIMEOUT), as on other systems: for tests.
	WriteDeadlines bool
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Conn is one accepted WebSocket connection. The reader runs in the
// goroutine that calls [Conn.Run]; the writer, started with the first
// frame and parked while there is nothing to write, drains a byte-bounded
// queue. Both belong to the connection's own group, which Run waits for.
//
// Send and Close may be called from any goroutine and never block.
type Conn struct {
	ws    *websocket.Conn
	nc    *netConn
	opts  Options
	idle  *time.Timer
	out   *workq.Queue[protocol.Frame]
	group workq.Group // The writer and the closer.

	mu      sync.Mutex             // Protects closing.
	closing *transport.CloseReason // Set once: by Close, an overflow or Run's end.

	dead atomic.Bool // A write failed or the connection was cut: no close frame.
}

// Accept completes the WebSocket handshake. On failure it has already
// written an HTTP error response.
func Accept(w http.ResponseWriter, r *http.Request, opts *Options) (*Conn, error) {
	o := opts.withDefaults()
	ao := &websocket.AcceptOptions{InsecureSkipVerify: true} // Origins are checked before.
	if o.Subprotocol != "" {
		ao.Subprotocols = []string{o.Subprotocol}
	}
	if o.Compress {
		ao.CompressionMode = websocket.CompressionContextTakeover
	}
	c := &Conn{opts: o}
	ao.OnPingReceived = func(context.Context, []byte) bool { c.touch(); return true }
	ao.OnPongReceived = func(context.Context, []byte) { c.touch() }
	c.out = workq.New(&c.group, c.write, &workq.Options[protocol.Frame]{
		Linger:  true,
		Limit:   o.QueueBytes,
		Cost:    func(f protocol.Frame) int { return len(f.Data) },
		Drained: c.closeFrame,
	})
	ws, err := websocket.Accept(&hijacker{ResponseWriter: w, c: c}, r, ao)
	if err != nil {
		c.out.Close()
		_ = c.group.Wait(context.Background())
		return nil, err
	}
	ws.SetReadLimit(o.MaxFrameSize)
	c.ws = ws
	return c, nil
}

func (c *Conn) touch() {
	if c.idle != nil {
		c.idle.Reset(c.opts.IdleTimeout)
	}
}

// Send queues f for writing and returns at once. It reports false when the
// connection is closing or when f would pass the queue's bound, in which
// case the connection is cut with CloseSlowConsumer.
func (c *Conn) Send(f protocol.Frame) bool {
	switch c.out.Push(f) {
	case nil:
		return true
	case workq.ErrFull:
		c.cut(transport.CloseSlowConsumer)
	}
	return false
}

// Close asks for the connection to be closed with reason once the frames
// already queued are written. Only the first reason counts.
func (c *Conn) Close(reason transport.CloseReason) {
	if c.setClosing(reason) {
		c.out.Close() // Drained writes the close frame after the last frame.
	}
}

// setClosing records why the connection closes and reports whether it is
// the first reason, the one that counts.
func (c *Conn) setClosing(reason transport.CloseReason) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing != nil {
		return false
	}
	c.closing = &reason
	return true
}

// cut ends the connection at once, dropping what is queued, without a
// close frame: for a client that does not read, which would read none.
func (c *Conn) cut(reason transport.CloseReason) {
	if !c.setClosing(reason) {
		return
	}
	c.dead.Store(true)
	c.out.Close()
	c.out.Clear()
	c.opts.Logger.Warn("cutting websocket", "reason", reason.Reason, "queue_bytes", c.opts.QueueBytes)
	c.group.Go(func() { _ = c.ws.CloseNow() })
}

// SlowConsumer cuts the connection as a frame that would pass the
// queue's bound does ([transport.CloseSlowConsumer]): for frames held
// for it elsewhere (a joining channel's) that passed the bound.
func (c *Conn) SlowConsumer() { c.cut(transport.CloseSlowConsumer) }

// Abort ends the connection at once, dropping what is queued, without a
// close frame.
func (c *Conn) Abort() {
	c.setClosing(transport.CloseShutdown)
	c.dead.Store(true)
	c.out.Close()
	c.out.Clear()
	c.group.Go(func() { _ = c.ws.CloseNow() })
}

// write writes a batch of frames, on the queue's goroutine.
func (c *Conn) write(batch []protocol.Frame) {
	if c.dead.Load() {
		return
	}
	bytes := 0
	for _, f := range batch {
		typ := websocket.MessageText
		if f.Binary {
			typ = websocket.MessageBinary
		}
		if err := c.ws.Write(context.Background(), typ, f.Data); err != nil {
			c.dead.Store(true)
			c.out.Close()
			c.out.Clear()
			_ = c.ws.CloseNow()
			return
		}
		bytes += len(f.Data)
	}
	if c.opts.OnWrite != nil {
		c.opts.OnWrite(len(batch), bytes)
	}
}

// closeFrame runs once every queued frame is written after Close: it
// sends the close frame and waits for the client's (at most 5 s, bounded
// by the stall timeout when the client does not read).
func (c *Conn) closeFrame() {
	c.mu.Lock()
	reason := c.closing
	c.mu.Unlock()
	if reason == nil || c.dead.Load() || c.ws == nil {
		return
	}
	_ = c.ws.Close(websocket.StatusCode(reason.Code), reason.Reason)
}

// Handler is called by Run for every inbound message, in order. data is
// handed over: the handler may keep it. A non-nil reason closes the
// connection with that reason.
type Handler func(data []byte, binary bool) *transport.CloseReason

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Run reads messages and passes them to h until the connection ends, then
// waits for the writer and returns why it ended. It must be called once.
func (c *Conn) Run(h Handler) transport.CloseReason {
	c.idle = time.AfterFunc(c.opts.IdleTimeout, func() { c.Close(transport.CloseIdle) })
	return c.end(c.readLoop(h))
}

// end runs once the reader has returned: it settles the close reason,
// releases the writer and waits for it. It is a function of its own so
// that its frame is not on the reader's stack while frames are handled.
//
//go:noinline
func (c *Conn) end(reason transport.CloseReason) transport.CloseReason {
	c.idle.Stop()
	if c.nc.stalled.Load() {
		reason = transport.CloseStalled
	}
	if !c.setClosing(reason) {
		c.mu.Lock()
		reason = *c.closing
		c.mu.Unlock()
	}
	if reason == transport.CloseStalled {
		c.opts.Logger.Warn("cut stalled websocket: the client took no data", "stall_timeout", c.opts.StallTimeout)
	}
	// The reader returns only once the peer is gone or has answered our
	// close frame, so nothing is left to send: release the writer.
	c.out.Close()
	_ = c.ws.CloseNow()
	_ = c.group.Wait(context.Background())
	return reason
}

func (c *Conn) readLoop(h Handler) transport.CloseReason {
	ctx := context.Background()
	for {
		typ, rd, err := c.ws.Reader(ctx)
		if err != nil {
			return transport.CloseNormal
		}
		c.touch()
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(rd)
		if err != nil {
			bufPool.Put(buf)
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.opts.Logger.Warn("websocket frame too large", "limit", c.opts.MaxFrameSize)
			}
			return transport.CloseNormal
		}
		data := bytes.Clone(buf.Bytes())
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
		binary := typ == websocket.MessageBinary
		if !binary && !utf8.Valid(data) {
			c.Close(transport.CloseInvalidUTF8)
			return c.drain()
		}
		if r := h(data, binary); r != nil {
			c.Close(*r)
			return c.drain()
		}
	}
}

// drain reads and discards until the close handshake completes.
func (c *Conn) drain() transport.CloseReason {
	for {
		_, rd, err := c.ws.Reader(context.Background())
		if err != nil {
			return transport.CloseNormal
		}
		_, _ = io.Copy(io.Discard, rd)
	}
}

// hijacker hands github.com/coder/websocket the connection wrapped in a
// netConn, for reads (coder/websocket reads through the net.Conn that
// Hijack returns) and writes (through a bufio.Writer on it), and sets the
// stall timeout on the TCP connection.
type hijacker struct {
	http.ResponseWriter
	c *Conn
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	raw, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	nc := &netConn{Conn: raw, stall: h.c.opts.StallTimeout}
	if nc.stall > 0 && !h.c.opts.WriteDeadlines && setUserTimeout(raw, nc.stall) {
		nc.stall = 0 // The kernel measures progress: no write deadlines.
	}
	h.c.nc = nc
	brw.Writer.Reset(nc) // Keeps net/http's buffer: nothing more to allocate.
	return nc, brw, nil
}

// netConn is the connection under coder/websocket. It notes a stall: the
// kernel's TCP_USER_TIMEOUT (ETIMEDOUT) or, where that option is not
// available, a write deadline that passed. Read and Write are called by
// the reader and the writer, one each at a time.
type netConn struct {
	net.Conn
	stall    time.Duration // Write deadline per blocked write; 0: none.
	deadline time.Time     // The write deadline set; the writer's.
	stalled  atomic.Bool
}

func (nc *netConn) Read(p []byte) (int, error) {
	n, err := nc.Conn.Read(p)
	if err != nil {
		nc.noteStall(err)
	}
	return n, err
}

// Write arms the write deadline when fewer than half of the stall timeout
// is left of it (a SetWriteDeadline per write would cost more than the
// write on a busy connection), so a write that blocks is cut after
// between half the stall timeout and all of it.
func (nc *netConn) Write(p []byte) (int, error) {
	if nc.stall > 0 {
		now := time.Now()
		if nc.deadline.Sub(now) < nc.stall/2 {
			nc.deadline = now.Add(nc.stall)
			_ = nc.Conn.SetWriteDeadline(nc.deadline)
		}
	}
	n, err := nc.Conn.Write(p)
	if err != nil {
		nc.noteStall(err)
	}
	return n, err
}

func (nc *netConn) noteStall(err error) {
	if errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, os.ErrDeadlineExceeded) {
		nc.stalled.Store(true)
	}
}
