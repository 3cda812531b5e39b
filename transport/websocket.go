package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/protocol"
)

// Defaults of [WebSocketOptions].
const (
	DefaultMaxFrameSize = 10_000_000
	DefaultIdleTimeout  = 60 * time.Second
	DefaultQueueBytes   = 1 << 20
)

// WebSocketOptions configures one WebSocket connection. The zero value
// uses every default.
type WebSocketOptions struct {
	// MaxFrameSize is the largest inbound message, in bytes; a larger one
	// closes the connection with 1009. Zero means 10,000,000 (Phoenix's).
	MaxFrameSize int64

	// IdleTimeout closes the connection when nothing at all (data or
	// control frame) has been received for that long. Zero means 60 s.
	IdleTimeout time.Duration

	// QueueBytes bounds the outbound queue, in bytes of queued frames. A
	// send that would pass it closes the connection with
	// CloseSlowConsumer. Zero means 1 MiB.
	QueueBytes int

	// Compress negotiates permessage-deflate when the client offers it.
	Compress bool

	// Subprotocol is echoed in the handshake when not empty; pick it with
	// SelectSubprotocol.
	Subprotocol string

	// Logger receives the connection's log lines. nil means slog.Default().
	Logger *slog.Logger
}

func (o *WebSocketOptions) withDefaults() WebSocketOptions {
	var c WebSocketOptions
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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// WebSocket is one accepted WebSocket connection: the reader runs in the
// goroutine that calls [WebSocket.Run] and a writer goroutine, started with
// the first frame and parked while there is nothing to write, drains a
// byte-bounded outbound queue.
//
// Send and Close may be called from any goroutine and never block.
type WebSocket struct {
	ws   *websocket.Conn
	opts WebSocketOptions
	idle *time.Timer
	wake chan struct{}  // Buffered 1: wakes the parked writer.
	wg   sync.WaitGroup // The writer and the closer.

	mu      sync.Mutex // Protects the following.
	queue   []protocol.Frame
	queued  int          // Bytes in queue.
	writing bool         // The writer goroutine has started and not ended.
	parked  bool         // The writer waits on wake for frames.
	closing *CloseReason // Set once by Close or an overflow.
	done    bool         // The connection is closed; Send drops.
}

// AcceptWebSocket completes the WebSocket handshake. On failure it has
// already written an HTTP error response.
func AcceptWebSocket(w http.ResponseWriter, r *http.Request, opts *WebSocketOptions) (*WebSocket, error) {
	o := opts.withDefaults()
	ao := &websocket.AcceptOptions{InsecureSkipVerify: true} // Origins are checked by OriginChecker.
	if o.Subprotocol != "" {
		ao.Subprotocols = []string{o.Subprotocol}
	}
	if o.Compress {
		ao.CompressionMode = websocket.CompressionContextTakeover
	}
	c := &WebSocket{opts: o, wake: make(chan struct{}, 1)}
	ao.OnPingReceived = func(context.Context, []byte) bool { c.touch(); return true }
	ao.OnPongReceived = func(context.Context, []byte) { c.touch() }
	ws, err := websocket.Accept(w, r, ao)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(o.MaxFrameSize)
	c.ws = ws
	return c, nil
}

func (c *WebSocket) touch() {
	if c.idle != nil {
		c.idle.Reset(c.opts.IdleTimeout)
	}
}

// Send queues f for writing and returns at once. It reports false when the
// connection is closing or when f would overflow the queue, in which case
// the connection is closed with CloseSlowConsumer.
func (c *WebSocket) Send(f protocol.Frame) bool {
	c.mu.Lock()
	if c.closing != nil || c.done {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(f.Data) > c.opts.QueueBytes && c.queued > 0 {
		reason := CloseSlowConsumer
		c.closing = &reason
		c.queue, c.queued = nil, 0
		c.wakeWriterLocked()
		c.mu.Unlock()
		c.opts.Logger.Warn("closing slow websocket", "reason", reason.Reason, "queue_bytes", c.opts.QueueBytes)
		c.wg.Go(func() { _ = c.ws.CloseNow() })
		return false
	}
	c.queue = append(c.queue, f)
	c.queued += len(f.Data)
	c.startWriterLocked()
	c.mu.Unlock()
	return true
}

// Close asks for the connection to be closed with reason once the frames
// already queued are written. Only the first reason counts.
func (c *WebSocket) Close(reason CloseReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing != nil || c.done {
		return
	}
	c.closing = &reason
	c.startWriterLocked()
}

// startWriterLocked starts the writer with the connection's first frame,
// and wakes it when it is parked. c.mu must be held.
func (c *WebSocket) startWriterLocked() {
	if !c.writing {
		c.writing = true
		c.wg.Go(c.writeLoop)
		return
	}
	c.wakeWriterLocked()
}

// wakeWriterLocked wakes the writer if it is parked. c.mu must be held.
func (c *WebSocket) wakeWriterLocked() {
	if c.parked {
		c.parked = false
		c.wake <- struct{}{} // Never blocks: one wake per park.
	}
}

// writeLoop writes queued frames, parking while the queue is empty, until
// the connection closes; when a close was asked for, it sends the close
// frame after the last frame. One writer lives as long as the connection:
// waking a parked goroutine for each burst of frames costs less CPU than
// starting one (docs/benchmarks.md), for about 1 KiB per connection.
func (c *WebSocket) writeLoop() {
	var batch []protocol.Frame
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && c.closing == nil && !c.done {
			c.parked = true
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if len(c.queue) == 0 {
			closing := c.closing
			if closing == nil || c.done {
				c.writing = false
				c.mu.Unlock()
				return
			}
			c.done = true
			c.mu.Unlock()
			if *closing == CloseSlowConsumer {
				return
			}
			_ = c.ws.Close(closing.Code, closing.Reason)
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.queued = 0
		c.mu.Unlock()

		for i, f := range batch {
			typ := websocket.MessageText
			if f.Binary {
				typ = websocket.MessageBinary
			}
			if err := c.ws.Write(context.Background(), typ, f.Data); err != nil {
				c.fail()
				return
			}
			batch[i] = protocol.Frame{}
		}
	}
}

// fail marks the connection dead after a write error and releases the reader.
func (c *WebSocket) fail() {
	c.mu.Lock()
	c.done = true
	c.writing = false
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	_ = c.ws.CloseNow()
}

// Handler is called by Run for every inbound message, in order. data is
// handed over: the handler may keep it. A non-nil error closes the
// connection with the returned reason.
type Handler func(data []byte, binary bool) *CloseReason

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Run reads messages and passes them to h until the connection ends, then
// waits for the writer and returns why it ended. It must be called once.
func (c *WebSocket) Run(h Handler) CloseReason {
	c.idle = time.AfterFunc(c.opts.IdleTimeout, func() { c.Close(CloseIdle) })
	reason := c.readLoop(h)
	c.idle.Stop()
	c.mu.Lock()
	if c.closing == nil {
		c.closing = &reason
	} else {
		reason = *c.closing
	}
	c.wakeWriterLocked()
	c.mu.Unlock()
	// The reader returns only once the peer is gone or has answered our
	// close frame, so nothing is left to send: release the writer.
	_ = c.ws.CloseNow()
	c.wg.Wait()
	return reason
}

func (c *WebSocket) readLoop(h Handler) CloseReason {
	ctx := context.Background()
	for {
		typ, rd, err := c.ws.Reader(ctx)
		if err != nil {
			return CloseNormal
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
			return CloseNormal
		}
		data := bytes.Clone(buf.Bytes())
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
		binary := typ == websocket.MessageBinary
		if !binary && !utf8.Valid(data) {
			c.Close(CloseInvalidUTF8)
			return c.drain()
		}
		if r := h(data, binary); r != nil {
			c.Close(*r)
			return c.drain()
		}
	}
}

// drain reads and discards until the close handshake completes.
func (c *WebSocket) drain() CloseReason {
	for {
		_, rd, err := c.ws.Reader(context.Background())
		if err != nil {
			return CloseNormal
		}
		_, _ = io.Copy(io.Discard, rd)
	}
}
