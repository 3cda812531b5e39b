package ws_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/ws"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// A fan-out's frames wait for the batch's flush: nothing reaches the wire
// before it, a frame sent meanwhile (a reply) queues behind them, and the
// flush writes them all, in order, and leaves the connection idle.
func TestBatchHoldsUntilFlush(t *testing.T) {
	t.Parallel()
	c, conn := dialDirect(t)
	b1, b2 := sendbatch.Get(), sendbatch.Get()
	if !conn.SendBatch(text("one"), b1) || !conn.SendBatch(text("two"), b2) || !conn.Send(text("reply")) {
		t.Fatal("a send was refused")
	}
	if b1.Len() != 1 || b2.Len() != 0 {
		t.Fatalf("batches hold %d and %d connections, want 1 and 0: only the batch that found the connection idle flushes it", b1.Len(), b2.Len())
	}
	if frames, _ := ws.Queued(conn); frames != 3 || !ws.Writing(conn) {
		t.Fatalf("%d frames queued (writing %v), want 3 held for the flush", frames, ws.Writing(conn))
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.br.Peek(1); len(n) > 0 || !isTimeout(err) {
		t.Fatalf("bytes on the wire before the flush: %q, %v", n, err)
	}
	b2.Flush()
	b1.Flush()
	for _, want := range []string{"one", "two", "reply"} {
		if f := c.next(); string(f.data) != want || f.opcode != 1 {
			t.Fatalf("got opcode %d %q, want %q", f.opcode, f.data, want)
		}
	}
	if frames, _ := ws.Queued(conn); frames != 0 || ws.Writing(conn) {
		t.Fatalf("after the flush: %d frames queued, writing %v; want an idle connection", frames, ws.Writing(conn))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A flush that the socket takes only in part leaves the rest to the
// writer: the frames arrive whole and in order once the client reads,
// with a ping's pong between two of them, and the connection is idle
// again after.
func TestBatchPartialWrite(t *testing.T) {
	t.Parallel()
	c, conn := dialDirect(t)
	big := payload(32<<20, 3) // More than the socket buffers take at once.
	b := sendbatch.Get()
	const n = 100
	conn.SendBatch(text("first"), b)
	conn.SendBatch(protocol.Frame{Data: big, Binary: true}, b)
	for i := range n {
		conn.SendBatch(text(fmt.Sprint("after ", i)), b)
	}
	b.Flush()
	if frames, off := ws.Queued(conn); frames == 0 && !ws.Writing(conn) || frames > 0 && off == 0 && frames != n+1 {
		t.Fatalf("after a partial flush: %d frames queued, %d bytes of the first written, writing %v", frames, off, ws.Writing(conn))
	}
	if err := c.send(0x9, []byte("mid")); err != nil {
		t.Fatal(err)
	}
	if f := c.next(); string(f.data) != "first" {
		t.Fatalf("got %.40q, want first", f.data)
	}
	if f := c.next(); f.opcode != 2 || !bytes.Equal(f.data, big) || !bytes.Equal(f.head, wantHeader(2, len(big))) {
		t.Fatalf("the large frame came back changed (%d bytes, opcode %d)", len(f.data), f.opcode)
	}
	c.expectAfters(n)
	b = sendbatch.Get()
	conn.SendBatch(text("idle"), b)
	if b.Len() != 1 {
		t.Fatal("the connection is not idle after the writer drained it")
	}
	b.Flush()
	if f := c.next(); string(f.data) != "idle" {
		t.Fatalf("got %q", f.data)
	}
}

// A connection closed while a batch holds its frames writes them at the
// flush, then its close frame.
func TestBatchCloseBeforeFlush(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{}, nil)
	c, conn := dialRaw(t, s, 0)
	b := sendbatch.Get()
	conn.SendBatch(text("held"), b)
	conn.Close(transport.CloseShutdown)
	if conn.SendBatch(text("late"), b) || conn.Send(text("late")) {
		t.Fatal("a send after Close was taken")
	}
	b.Flush()
	if f := c.next(); string(f.data) != "held" {
		t.Fatalf("got opcode %d %q, want the held frame", f.opcode, f.data)
	}
	if f := c.next(); f.opcode != 0x8 {
		t.Fatalf("got opcode %d %q, want the close frame", f.opcode, f.data)
	}
}
