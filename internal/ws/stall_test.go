package ws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/internal/ws"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/transport"
)

const testStall = 300 * time.Millisecond

// stallModes are the two ways a stall is found: the kernel's
// TCP_USER_TIMEOUT (Linux), and write deadlines (elsewhere).
var stallModes = []struct {
	name      string
	deadlines bool
}{{"kernel", false}, {"deadlines", true}}

// A client that stops reading while its writer is blocked in a write with
// less than QueueBytes queued is cut within the stall timeout, with
// CloseStalled, not held until something else happens.
func TestStalledBlockedWriter(t *testing.T) {
	t.Parallel()
	for _, m := range stallModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newWSServer(t, ws.Options{
				WebSocketOptions: transport.WebSocketOptions{StallTimeout: testStall, IdleTimeout: time.Minute},
				WriteDeadlines:   m.deadlines,
			}, nil)
			_, conn := s.dial(t, &wstest.Options{NoRead: true, ReadBuffer: 4096})
			// One frame larger than any socket buffers: accepted alone on
			// the empty queue, so the writer blocks in its write with
			// nothing else queued.
			start := time.Now()
			if !conn.Send(text(strings.Repeat("x", 16<<20))) {
				t.Fatal("Send refused the frame")
			}
			r := s.reason(t)
			if r != transport.CloseStalled {
				t.Fatalf("Run returned %v, want CloseStalled", r)
			}
			if d := time.Since(start); d > testStall+2*time.Second {
				t.Fatalf("cut after %v, want about %v", d, testStall)
			}
		})
	}
}

// On Linux the kernel sees a client stop reading long before its send
// buffer fills: a trickle of small frames (a few KB/s would take minutes
// to fill megabytes of buffers) is cut within the stall timeout.
func TestStalledTrickleKernel(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{StallTimeout: testStall, IdleTimeout: time.Minute}}, nil)
	_, conn := s.dial(t, &wstest.Options{NoRead: true, ReadBuffer: 4096})
	if !ws.KernelStall(conn) {
		t.Skip("TCP_USER_TIMEOUT is not available: the trickle is found once the buffers fill")
	}
	frame := text(strings.Repeat("t", 1024))
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for conn.Send(frame) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("still open 10 s after the client stopped reading")
		}
		<-tick.C
	}
	if r := s.reason(t); r != transport.CloseStalled {
		t.Fatalf("Run returned %v, want CloseStalled", r)
	}
	if d := time.Since(start); d > testStall+1500*time.Millisecond {
		t.Fatalf("cut %v after the first frame, want about %v", d, testStall)
	}
}

// A client that reads slowly, with pauses shorter than the stall timeout,
// but keeps up, is never cut.
func TestSlowReaderNotCut(t *testing.T) {
	t.Parallel()
	for _, m := range stallModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newWSServer(t, ws.Options{
				WebSocketOptions: transport.WebSocketOptions{StallTimeout: 500 * time.Millisecond, IdleTimeout: time.Minute},
				WriteDeadlines:   m.deadlines,
			}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.ts.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			conn := s.conn(t)
			const frames = 300 // 3 s at one per 10 ms.
			got := make(chan int, 1)
			go func() {
				n := 0
				for n < frames {
					if _, _, err := c.Read(ctx); err != nil {
						break
					}
					n++
					if n%50 == 0 {
						time.Sleep(250 * time.Millisecond) // A pause, half the stall timeout.
					}
				}
				got <- n
			}()
			frame := text(strings.Repeat("s", 2048))
			for i := range frames {
				if !conn.Send(frame) {
					t.Fatalf("Send %d refused: the slow reader was cut", i)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if n := <-got; n != frames {
				t.Fatalf("the reader got %d of %d frames", n, frames)
			}
			select {
			case r := <-s.reasons:
				t.Fatalf("the connection ended: %v", r)
			default:
			}
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

// Close on a connection whose writer is blocked on a stalled client ends
// within the stall timeout.
func TestCloseStalledWithinStallTimeout(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{StallTimeout: testStall, IdleTimeout: time.Minute}}, nil)
	_, conn := s.dial(t, &wstest.Options{NoRead: true, ReadBuffer: 4096})
	conn.Send(text(strings.Repeat("x", 16<<20)))
	time.Sleep(50 * time.Millisecond) // The writer is in its write.
	start := time.Now()
	conn.Close(transport.CloseShutdown)
	if r := s.reason(t); r != transport.CloseShutdown {
		t.Fatalf("Run returned %v, want the first reason, CloseShutdown", r)
	}
	if d := time.Since(start); d > testStall+2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}
