package ws

import (
	"encoding/binary"
	"sync"

	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// The write side of a connection.
//
// Pyre frames its data frames itself (a server's frames are not masked and
// compression is off, so a frame is a header of 2 to 10 bytes and the
// message's bytes, which a broadcast shares between all its subscribers)
// and writes them without coder/websocket; coder/websocket still writes
// the control frames (pongs, the close handshake) through netConn.Write.
// One ownership protocol keeps the bytes of different frames from
// interleaving: whoever writes to the socket owns its write side (busy,
// under Conn.mu), and only the owner writes:
//
//   - Send into an idle connection (nothing queued, no owner) takes the
//     write side and makes one non-blocking write attempt in the calling
//     goroutine (the broadcaster, the channel, the reader). What the
//     socket does not take at once (EAGAIN, a partial write) goes first
//     in the queue, with what it wrote counted, and the write side passes
//     to a writer goroutine.
//   - SendBatch, a broadcast's fan-out, into an idle connection queues
//     the frame, takes the write side for the fan-out's batch, and
//     returns; once the fan-out is done, the batch's Flush writes the
//     queue (with whatever other broadcasts and replies queued behind it
//     meanwhile) with one non-blocking writev, and passes what is left
//     to a writer as a direct write does (package sendbatch).
//   - Send while the write side is owned queues the frame; the owner
//     sees it before it lets go, and passes the write side to a writer
//     goroutine, which writes the queue in batches (one writev each) and
//     ends when the queue is empty: an idle connection has no writer.
//   - coder/websocket's writes (one whole control frame per call: its
//     write buffer holds the largest) wait for the write side, and get it
//     before queued frames do, between two whole frames. A close frame
//     ends the data: nothing is sent after it.
//   - The close frame of Close is written by a goroutine started once the
//     queue is empty and nobody owns the write side.
//
// Where the socket cannot be written directly (not Linux, TLS, write
// deadlines for the stall cut) every frame goes through the writer, which
// copies a batch into one buffer; with permessage-deflate negotiated,
// coder/websocket frames and writes everything, as before.

// maxHeader is the largest header of a server's frame: 2 bytes and an
// 8-byte length, no mask.
const maxHeader = 10

// outFrame is one frame waiting to be written.
type outFrame struct {
	data []byte // Shared: never modified.
	hdr  [maxHeader]byte
	hlen uint8
	bin  bool
}

func newOutFrame(f protocol.Frame) outFrame {
	o := outFrame{data: f.Data, bin: f.Binary}
	o.hlen = uint8(putHeader(o.hdr[:], len(f.Data), f.Binary))
	return o
}

func (o *outFrame) size() int { return int(o.hlen) + len(o.data) }

// putHeader writes the header of an unmasked, final, uncompressed text
// or binary frame of n bytes into b (maxHeader bytes at least) and
// returns its length (RFC 6455, section 5.2).
func putHeader(b []byte, n int, bin bool) int {
	op := byte(0x1)
	if bin {
		op = 0x2
	}
	b[0] = 0x80 | op
	switch {
	case n <= 125:
		b[1] = byte(n)
		return 2
	case n <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return 10
	}
}

// frameList is a queue's frames, taken from a pool while frames wait and
// given back when the writer has written them, so that an idle
// connection keeps no queue buffer.
type frameList struct {
	f   []outFrame
	buf []byte // The copy of a batch, where frames are not written with writev.
	iov iovecs // writev's vectors for a batch.
}

// maxPooledFrames bounds the lists kept in the pool (a burst of frames
// larger than that leaves its list to the garbage collector).
const maxPooledFrames = 4096

var framePool = sync.Pool{New: func() any { return &frameList{f: make([]outFrame, 0, 16)} }}

func getFrameList() *frameList { return framePool.Get().(*frameList) }

func putFrameList(l *frameList) {
	clear(l.f) // Retain no payload.
	l.f = l.f[:0]
	l.iov.reset()
	if cap(l.f) > maxPooledFrames || cap(l.buf) > 256<<10 {
		return
	}
	l.buf = l.buf[:0]
	framePool.Put(l)
}

// Send queues f, or writes it at once when nothing waits (see above), and
// returns without waiting for the client. It reports false when the
// connection is closing or when f would take the frames waiting past
// QueueBytes, in which case the connection is cut with CloseSlowConsumer.
func (c *Conn) Send(f protocol.Frame) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if !c.busy && c.ctrlWait == 0 && c.direct {
		// Idle: nothing is queued (an owner would have passed the write
		// side to a writer), so f may go straight out.
		c.busy = true
		c.mu.Unlock()
		c.sendDirect(f)
		return true
	}
	if c.q != nil && len(c.q.f) > 0 && c.qBytes+len(f.Data) > c.opts.QueueBytes {
		c.mu.Unlock()
		c.cut(transport.CloseSlowConsumer)
		return false
	}
	if c.q == nil {
		c.q = getFrameList()
	}
	c.q.f = append(c.q.f, newOutFrame(f))
	c.qBytes += len(f.Data)
	if !c.busy && c.ctrlWait == 0 {
		c.busy = true
		c.startWriterLocked()
	}
	c.mu.Unlock()
	return true
}

// SendBatch is Send inside a PubSub's fan-out: into an idle connection
// it queues f, takes the write side for b, and adds c to b, whose flush
// (Flush) writes f after the fan-out together with any frame queued
// behind it meanwhile; otherwise it is Send.
func (c *Conn) SendBatch(f protocol.Frame, b *sendbatch.Batch) bool {
	c.mu.Lock()
	if c.closed || c.busy || c.ctrlWait > 0 || !c.direct {
		c.mu.Unlock()
		return c.Send(f)
	}
	c.busy = true
	if c.q == nil {
		c.q = getFrameList()
	}
	c.q.f = append(c.q.f, newOutFrame(f))
	c.qBytes += len(f.Data)
	c.mu.Unlock()
	b.Add(c)
	return true
}

// maxFlushRounds bounds the writes one Flush makes for frames queued
// while it wrote, before it leaves the rest to a writer.
const maxFlushRounds = 4

// Flush writes what waits, for the batch that owns the write side since
// SendBatch: non-blocking writes of the whole queue, one writev each, in
// the calling goroutine; what the socket does not take goes to a writer.
func (c *Conn) Flush() {
	c.mu.Lock()
	for round := 0; ; round++ {
		if c.dead.Load() {
			c.dropQueueLocked()
		}
		if c.q == nil || len(c.q.f) == 0 || c.ctrlWait > 0 || round == maxFlushRounds {
			c.releaseLocked()
			c.mu.Unlock()
			return
		}
		l := c.q
		c.q, c.qBytes = nil, 0
		c.mu.Unlock()
		wrote, err := c.writevDirect(l)
		c.mu.Lock()
		if err != nil {
			putFrameList(l)
			c.failLocked(err) // Lets go of the write side.
			c.mu.Unlock()
			return
		}
		if !c.requeueLocked(l, wrote) {
			c.startWriterLocked()
			c.mu.Unlock()
			return
		}
	}
}

// requeueLocked accounts for a non-blocking write of l that took wrote
// bytes, by the owner of the write side. It reports true if l was
// written whole, and gives it back; otherwise the rest of l goes first in
// the queue, the first frame from c.qOff. c.mu is held.
func (c *Conn) requeueLocked(l *frameList, wrote int) bool {
	n, bytes := 0, 0
	for n < len(l.f) && wrote >= l.f[n].size() {
		wrote -= l.f[n].size()
		bytes += len(l.f[n].data)
		n++
	}
	if n > 0 && c.opts.OnWrite != nil {
		c.opts.OnWrite(n, bytes)
	}
	if n == len(l.f) {
		putFrameList(l)
		return true
	}
	rest := copy(l.f, l.f[n:])
	clear(l.f[rest:])
	l.f = l.f[:rest]
	for i := range l.f {
		c.qBytes += len(l.f[i].data)
	}
	if c.q != nil {
		l.f = append(l.f, c.q.f...)
		putFrameList(c.q)
	}
	l.iov.reset()
	c.q, c.qOff = l, wrote
	return false
}

// sendDirect writes f from the calling goroutine, which owns the write
// side, with one non-blocking attempt. What is left goes first in the
// queue, for a writer.
func (c *Conn) sendDirect(f protocol.Frame) {
	n := putHeader(c.dhdr[:], len(f.Data), f.Binary)
	wrote, err := c.writeDirect(c.dhdr[:n], f.Data)
	total := n + len(f.Data)
	if err != nil {
		c.mu.Lock()
		c.failLocked(err)
		c.mu.Unlock()
		return
	}
	if wrote == total {
		if c.opts.OnWrite != nil {
			c.opts.OnWrite(1, len(f.Data))
		}
		c.mu.Lock()
		c.releaseLocked()
		c.mu.Unlock()
		return
	}
	// The rest goes before anything queued meanwhile.
	c.mu.Lock()
	if c.closed && c.dead.Load() {
		c.releaseLocked()
		c.mu.Unlock()
		return
	}
	if c.q == nil {
		c.q = getFrameList()
	}
	c.q.f = append(c.q.f, outFrame{})
	copy(c.q.f[1:], c.q.f)
	c.q.f[0] = newOutFrame(f)
	c.qOff = wrote
	c.qBytes += len(f.Data)
	c.startWriterLocked()
	c.mu.Unlock()
}

// startWriterLocked hands the write side, owned by the caller, to a new
// writer goroutine. c.mu is held.
func (c *Conn) startWriterLocked() {
	if !c.group.Go(c.writeLoopFn) {
		// The group is never closed; should it be, nothing can be written.
		c.busy = false
	}
}

// releaseLocked lets go of the write side, owned by the caller: the rest
// of a frame partly written goes first (to a writer), then a waiting
// coder/websocket write, then queued frames (to a writer), then the close
// frame if Close asked for one. c.mu is held.
func (c *Conn) releaseLocked() {
	switch {
	case c.qOff > 0:
		// The rest of a frame partly written goes before anything else.
		c.startWriterLocked()
	case c.ctrlWait > 0:
		c.busy = false
		c.turn.Signal()
	case c.q != nil && len(c.q.f) > 0:
		c.startWriterLocked()
	default:
		c.busy = false
		c.closeIfDrainedLocked()
	}
}

// closeIfDrainedLocked starts the goroutine that writes the close frame
// when Close asked for one, nothing waits and nobody writes. c.mu is held.
func (c *Conn) closeIfDrainedLocked() {
	if c.closed && c.closing != nil && !c.closerStarted && !c.dead.Load() &&
		!c.busy && c.ctrlWait == 0 && (c.q == nil || len(c.q.f) == 0) {
		c.closerStarted = true
		c.group.Go(c.closeFrame)
	}
}

// failLocked records a failed write by the owner of the write side: the
// connection is dead, what waits is dropped, and the socket is closed.
// c.mu is held.
func (c *Conn) failLocked(err error) {
	c.nc.noteStall(err)
	c.dead.Store(true)
	c.closed = true
	c.dropQueueLocked()
	c.releaseLocked()
	c.group.Go(c.closeNow)
}

// dropQueueLocked drops the frames waiting. c.mu is held.
func (c *Conn) dropQueueLocked() {
	if c.q != nil {
		putFrameList(c.q)
		c.q = nil
	}
	c.qOff, c.qBytes = 0, 0
}

// writeLoop is the writer goroutine: it owns the write side from its
// start, writes the queue in batches until it is empty, and lets go.
func (c *Conn) writeLoop() {
	c.mu.Lock()
	for {
		if c.dead.Load() {
			c.dropQueueLocked()
		}
		if c.q == nil || len(c.q.f) == 0 || c.ctrlWait > 0 && c.qOff == 0 {
			c.releaseLocked()
			c.mu.Unlock()
			return
		}
		batch, off := c.q, c.qOff
		c.q, c.qOff, c.qBytes = nil, 0, 0
		c.mu.Unlock()
		err := c.writeBatch(batch, off)
		if err == nil && c.opts.OnWrite != nil {
			bytes := 0
			for i := range batch.f {
				bytes += len(batch.f[i].data)
			}
			c.opts.OnWrite(len(batch.f), bytes)
		}
		putFrameList(batch)
		c.mu.Lock()
		if err != nil {
			c.failLocked(err) // Lets go of the write side.
			c.mu.Unlock()
			return
		}
	}
}

// writeBatch writes the frames of l, the first from byte off, blocking
// until the socket took them all or failed.
func (c *Conn) writeBatch(l *frameList, off int) error {
	if c.coderFrames {
		return c.writeCoder(l)
	}
	if c.raw != nil && !c.opts.noDirect {
		c.nc.armDeadline()
		return c.writevBlocking(l, off)
	}
	// One buffer for the batch: one write, one TLS record.
	b := l.buf[:0]
	for i := range l.f {
		f := &l.f[i]
		b = append(b, f.hdr[:f.hlen]...)
		b = append(b, f.data...)
	}
	l.buf = b
	_, err := c.nc.writeOwned(b[off:])
	return err
}

// ctrlAcquire waits for the write side, for a write of coder/websocket's,
// and takes it. It reports false when writes are pointless now (the
// connection is dead).
func (c *Conn) ctrlAcquire() {
	c.mu.Lock()
	c.ctrlWait++
	for c.busy {
		c.turn.Wait()
	}
	c.ctrlWait--
	c.busy = true
	c.mu.Unlock()
}

// ctrlRelease lets go of the write side after a write of
// coder/websocket's. After a close frame no data frame may follow: the
// connection takes no more and drops what waits.
func (c *Conn) ctrlRelease(closeFrame bool, err error) {
	c.mu.Lock()
	if closeFrame || err != nil {
		c.closed = true
		c.dropQueueLocked()
	}
	if err != nil {
		c.dead.Store(true)
	}
	c.releaseLocked()
	c.mu.Unlock()
}
