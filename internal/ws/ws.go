// Package ws is Pyre's WebSocket connection, on github.com/coder/websocket
// (the handshake, reading, control frames, the close handshake): one
// reader (the goroutine that calls Run); data frames framed by Pyre and
// written by their sender when nothing waits, or by a writer goroutine
// that drains a byte-bounded queue while frames wait (writer.go); and the
// cut of a client that is slow or stalled.
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

	noDirect bool // Every frame through the writer: for tests.
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
// goroutine that calls [Conn.Run]. Frames are written by whoever sends
// them when nothing waits, and otherwise by a writer goroutine that runs
// while frames wait (writer.go). Every goroutine of a Conn belongs to its
// own group, which Run waits for.
//
// Send and Close may be called from any goroutine and never block.
type Conn struct {
	ws    *websocket.Conn
	nc    *netConn
	opts  Options
	idle  *time.Timer
	group workq.Group // The writer, the closer and the cut.
	rawState

	direct      bool   // Send may write from its caller's goroutine.
	coderFrames bool   // permessage-deflate: coder/websocket frames and writes every frame.
	writeLoopFn func() // c.writeLoop, bound once.

	dhdr [maxHeader]byte // A direct write's header; the owner's.
	br   *bufio.Reader   // coder/websocket's reader; the reader goroutine's (see waitIdle).

	mu            sync.Mutex             // Protects the following.
	turn          sync.Cond              // On mu: the write side was let go for a coder/websocket write.
	closing       *transport.CloseReason // Set once: by Close, a cut or Run's end.
	closed        bool                   // Send refuses.
	busy          bool                   // The write side is owned (see writer.go).
	ctrlWait      int                    // coder/websocket writes waiting for the write side.
	closerStarted bool                   // The close frame's goroutine was started.
	q             *frameList             // Frames waiting, oldest first; nil when none.
	qOff          int                    // Bytes of q's first frame already written.
	qBytes        int                    // Payload bytes waiting, for QueueBytes.

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
	c.turn.L = &c.mu
	c.writeLoopFn = c.writeLoop
	ao.OnPingReceived = func(context.Context, []byte) bool { c.touch(); return true }
	ao.OnPongReceived = func(context.Context, []byte) { c.touch() }
	ws, err := websocket.Accept(&hijacker{ResponseWriter: w, c: c}, r, ao)
	if err != nil {
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

// Close asks for the connection to be closed with reason once the frames
// already queued are written. Only the first reason counts.
func (c *Conn) Close(reason transport.CloseReason) {
	c.mu.Lock()
	if c.closing == nil {
		c.closing = &reason
		c.closed = true
		c.closeIfDrainedLocked() // Or the owner of the write side, when it lets go.
	}
	c.mu.Unlock()
}

// cut ends the connection at once, dropping what is queued, without a
// close frame: for a client that does not read, which would read none.
func (c *Conn) cut(reason transport.CloseReason) {
	if !c.end0(reason) {
		return
	}
	c.opts.Logger.Warn("cutting websocket", "reason", reason.Reason, "queue_bytes", c.opts.QueueBytes)
}

// end0 ends the connection at once with reason, if it is the first
// reason: nothing more is written, what waits is dropped and the socket
// is closed (by a goroutine of the group: never in the caller's).
func (c *Conn) end0(reason transport.CloseReason) bool {
	c.mu.Lock()
	if c.closing != nil {
		c.mu.Unlock()
		return false
	}
	c.closing = &reason
	c.closed = true
	c.dead.Store(true)
	c.dropQueueLocked()
	c.mu.Unlock()
	c.group.Go(c.closeNow)
	return true
}

func (c *Conn) closeNow() { _ = c.ws.CloseNow() }

// SlowConsumer cuts the connection as a frame that would pass the
// queue's bound does ([transport.CloseSlowConsumer]): for frames held
// for it elsewhere (a joining channel's) that passed the bound.
func (c *Conn) SlowConsumer() { c.cut(transport.CloseSlowConsumer) }

// Abort ends the connection at once, dropping what is queued, without a
// close frame.
func (c *Conn) Abort() {
	if !c.end0(transport.CloseShutdown) {
		c.mu.Lock()
		c.dead.Store(true)
		c.dropQueueLocked()
		c.mu.Unlock()
		c.group.Go(c.closeNow)
	}
}

// writeCoder writes the frames of l with coder/websocket, which frames
// and compresses them (permessage-deflate).
func (c *Conn) writeCoder(l *frameList) error {
	for i := range l.f {
		typ := websocket.MessageText
		if l.f[i].bin {
			typ = websocket.MessageBinary
		}
		if err := c.ws.Write(context.Background(), typ, l.f[i].data); err != nil {
			return err
		}
	}
	return nil
}

// closeFrame runs once every queued frame is written after Close: it
// sends the close frame and waits for the client's (at most 5 s, bounded
// by the stall timeout when the client does not read).
func (c *Conn) closeFrame() {
	c.mu.Lock()
	reason := c.closing
	c.mu.Unlock()
	if reason == nil || c.dead.Load() {
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
	c.mu.Lock()
	if c.closing == nil {
		c.closing = &reason
	}
	reason = *c.closing
	c.closed = true
	c.dead.Store(true)
	c.dropQueueLocked()
	c.mu.Unlock()
	if reason == transport.CloseStalled {
		c.opts.Logger.Warn("cut stalled websocket: the client took no data", "stall_timeout", c.opts.StallTimeout)
	}
	// The reader returns only once the peer is gone or has answered our
	// close frame, so nothing is left to send: a writer's write fails.
	_ = c.ws.CloseNow()
	_ = c.group.Wait(context.Background())
	return reason
}

func (c *Conn) readLoop(h Handler) transport.CloseReason {
	ctx := context.Background()
	for {
		c.waitIdle()
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

// The buffers coder/websocket gets for a connection. It reads through a
// buffer of bufio's smallest size, which reads from netConn, where a
// pooled chunk is held only while bytes read from the socket wait in it
// (reads of a chunk or more go straight to the socket): an idle
// connection holds no read buffer. It writes only control frames through
// its writer's buffer, each in one flush: a control frame is at most 2 +
// 125 bytes. net/http's 4 KiB buffers are left to the garbage collector.
const (
	readBufferSize    = 16 // bufio's smallest.
	readChunk         = 1024
	controlBufferSize = 128
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// hijacker hands github.com/coder/websocket the connection wrapped in a
// netConn, for reads (coder/websocket reads through the net.Conn that
// Hijack returns) and control frames (through a bufio.Writer on it),
// sets the stall timeout on the TCP connection, and chooses how the
// connection's frames are written.
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
	c := h.c
	nc := &netConn{Conn: raw, c: c, stall: c.opts.StallTimeout}
	if nc.stall > 0 && !c.opts.WriteDeadlines && setUserTimeout(raw, nc.stall) {
		nc.stall = 0 // The kernel measures progress: no write deadlines.
	}
	if n := brw.Reader.Buffered(); n > 0 {
		// Sent by the client right after its handshake and read by
		// net/http already: read first.
		b, _ := brw.Reader.Peek(n)
		nc.pend = bytes.Clone(b)
	}
	c.nc = nc
	// permessage-deflate is negotiated when coder/websocket answers with
	// the extension: it then frames (and compresses) every message.
	c.coderFrames = h.Header().Get("Sec-WebSocket-Extensions") != ""
	c.initRaw(raw)
	wsize := controlBufferSize
	if c.coderFrames {
		wsize = 4096
	} else {
		// Direct writes need the socket itself, and the kernel's stall
		// cut (or none): a write deadline would outlive the write.
		c.direct = c.raw != nil && nc.stall <= 0 && !c.opts.noDirect
	}
	c.br = bufio.NewReaderSize(nc, readBufferSize)
	return nc, bufio.NewReadWriter(c.br, bufio.NewWriterSize(nc, wsize)), nil
}

// waitIdle waits, in the reader, until the client sends something when
// nothing it sent is left to read, before coder/websocket is asked for
// the next message: an idle connection's reader then waits a few calls
// deep rather than at the bottom of coder/websocket's read path, and the
// garbage collector shrinks its stack back to 4 KiB from the 8 KiB a
// join may have grown it to (a stack shrinks only when less than a
// quarter of it is in use, the runtime's reserve counted). The wait
// costs no system call more than the read it replaces (a peek finds the
// socket empty instead of a read).
func (c *Conn) waitIdle() {
	if c.raw == nil {
		return
	}
	// Under mu: the goroutine that writes the close frame also reads (the
	// close handshake), and it is started under mu, once closerStarted.
	c.mu.Lock()
	idle := !c.closerStarted && c.br.Buffered() == 0 && len(c.nc.pend) == 0
	c.mu.Unlock()
	if idle {
		c.waitReadable()
	}
}

// netConn is the connection under coder/websocket. It notes a stall: the
// kernel's TCP_USER_TIMEOUT (ETIMEDOUT) or, where that option is not
// available, a write deadline that passed. Read is called by the reader;
// Write by coder/websocket, one at a time, and writeOwned by the owner of
// the write side.
type netConn struct {
	net.Conn
	c        *Conn
	pend     []byte        // Read from the socket (or by net/http) and not yet by coder/websocket; the reader's.
	chunk    *[]byte       // The pooled chunk pend is in, if it is.
	stall    time.Duration // Write deadline per blocked write; 0: none.
	deadline time.Time     // The write deadline set; the write side's owner's.
	stalled  atomic.Bool
}

// Read is coder/websocket's (through its bufio.Reader), one call at a
// time. A read of less than a chunk reads a pooled chunk from the socket
// and keeps what p cannot take until the next calls.
func (nc *netConn) Read(p []byte) (int, error) {
	if len(nc.pend) > 0 {
		n := copy(p, nc.pend)
		nc.pend = nc.pend[n:]
		if len(nc.pend) == 0 {
			nc.pend = nil
			if nc.chunk != nil {
				chunkPool.Put(nc.chunk)
				nc.chunk = nil
			}
		}
		return n, nil
	}
	if len(p) >= readChunk {
		n, err := nc.Conn.Read(p)
		if err != nil {
			nc.noteStall(err)
		}
		return n, err
	}
	chunk := chunkPool.Get().(*[]byte)
	n, err := nc.Conn.Read(*chunk)
	if n == 0 {
		chunkPool.Put(chunk)
		nc.noteStall(err)
		return 0, err
	}
	// An error with the bytes is the socket's again on the next read.
	k := copy(p, (*chunk)[:n])
	if k < n {
		nc.pend, nc.chunk = (*chunk)[k:n], chunk
	} else {
		chunkPool.Put(chunk)
	}
	return k, nil
}

// Write is coder/websocket's: one whole control frame per call (see
// controlBufferSize), written when it owns the write side, between two
// data frames. With permessage-deflate coder/websocket writes every frame
// and orders them itself.
func (nc *netConn) Write(p []byte) (int, error) {
	c := nc.c
	if c.coderFrames {
		return nc.writeOwned(p)
	}
	c.ctrlAcquire()
	n, err := nc.writeOwned(p)
	c.ctrlRelease(len(p) > 0 && p[0]&0x0f == 0x8, err) // opcode 8: close.
	return n, err
}

// writeOwned writes p, blocking, for the owner of the write side.
func (nc *netConn) writeOwned(p []byte) (int, error) {
	nc.armDeadline()
	n, err := nc.Conn.Write(p)
	if err != nil {
		nc.noteStall(err)
	}
	return n, err
}

// armDeadline arms the write deadline when fewer than half of the stall
// timeout is left of it (a SetWriteDeadline per write would cost more
// than the write on a busy connection), so a write that blocks is cut
// after between half the stall timeout and all of it.
func (nc *netConn) armDeadline() {
	if nc.stall > 0 {
		now := time.Now()
		if nc.deadline.Sub(now) < nc.stall/2 {
			nc.deadline = now.Add(nc.stall)
			_ = nc.Conn.SetWriteDeadline(nc.deadline)
		}
	}
}

func (nc *netConn) noteStall(err error) {
	if errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, os.ErrDeadlineExceeded) {
		nc.stalled.Store(true)
	}
}
