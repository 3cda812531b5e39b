package chanrt

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// White-box tests of the inbound backpressure (MaxInbound): they look at
// the semaphore to know that the reader is really blocked.

type nopConn struct{}

func (nopConn) Serializer() protocol.Serializer { return protocol.V2 }
func (nopConn) Send(protocol.Frame) bool        { return true }
func (nopConn) Transport() string               { return "nop" }
func (nopConn) ID() string                      { return "" }
func (nopConn) ChannelClosed(*Channel, bool)    {}
func (nopConn) SlowConsumer()                   {}

func (nopConn) SendBatch(protocol.Frame, *sendbatch.Batch) bool { return true }

// gatedHandler blocks its first HandleIn on gate, then handles the rest,
// reporting their events in order; with crash set, the first one returns
// an error once the gate opens.
type gatedHandler struct {
	gate    chan struct{}
	crash   bool
	handled chan string
	first   atomic.Bool
}

func (h *gatedHandler) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (h *gatedHandler) HandleIn(_ context.Context, _ *channel.Socket, in *channel.Message) error {
	if h.first.CompareAndSwap(false, true) {
		<-h.gate
		if h.crash {
			return errors.New("crash")
		}
	}
	h.handled <- in.Event
	return nil
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newGated(t *testing.T, crash bool) (*Channel, *gatedHandler, *workq.Group, chan error) {
	h := &gatedHandler{gate: make(chan struct{}), crash: crash, handled: make(chan string, 2*MaxInbound)}
	g := &workq.Group{}
	exit := make(chan error, 1)
	ps, err := pubsub.New(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{
		Topic: "t", Ref: protocol.StringRef("1"), Handler: h, Conn: nopConn{},
		PubSub: ps, Logger: slog.New(slog.DiscardHandler), Group: g,
	})
	c.onExit = func(r error) { exit <- r }
	if _, st := c.Join(protocol.Payload{}); st != "ok" {
		t.Fatal("join failed")
	}
	c.Activate(func() {})
	t.Cleanup(func() {
		select {
		case <-h.gate:
		default:
			close(h.gate)
		}
		c.Stop(channel.ErrClosed)
		_ = g.Wait(context.Background())
		_ = ps.Close(context.Background())
	})
	return c, h, g, exit
}

// flood posts n pushes from a goroutine standing for the connection's
// reader, counting those HandleIn accepted.
func flood(c *Channel, n int) (posted *atomic.Int64, done chan struct{}) {
	posted = new(atomic.Int64)
	done = make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			ev := "e"
			if i == 0 {
				ev = "first"
			}
			c.HandleIn(protocol.Message{Topic: "t", Event: ev, Ref: protocol.StringRef("1")})
			posted.Add(1)
		}
	}()
	return posted, done
}

func TestMaxInboundBackpressure(t *testing.T) {
	t.Parallel()
	c, h, _, _ := newGated(t, false)
	const extra = 10
	posted, done := flood(c, MaxInbound+1+extra)

	// One push is being handled (its slot released), MaxInbound wait in
	// the mailbox, and the reader is blocked on the next one.
	waitUntil(t, "a full mailbox", func() bool {
		return len(c.inbound) == MaxInbound && posted.Load() == MaxInbound+1
	})
	select {
	case <-done:
		t.Fatal("the reader was not blocked by a full mailbox")
	default:
	}

	close(h.gate)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader stayed blocked after the mailbox drained")
	}
	for i := range MaxInbound + 1 + extra {
		select {
		case <-h.handled:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d pushes handled", i)
		}
	}
	waitUntil(t, "an empty semaphore", func() bool {
		return len(c.inbound) == 0
	})
}

// A channel that ends while the reader is blocked on its full mailbox
// releases the reader.
func TestMaxInboundReleasedOnExit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		end  func(c *Channel, h *gatedHandler)
	}{
		{"crash", func(_ *Channel, h *gatedHandler) { close(h.gate) }},
		{"kill", func(c *Channel, h *gatedHandler) { c.Kill(); close(h.gate) }},
		{"stop", func(c *Channel, h *gatedHandler) { c.Stop(channel.ErrClosed); close(h.gate) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, h, _, exit := newGated(t, tt.name == "crash")
			posted, done := flood(c, 2*MaxInbound)
			waitUntil(t, "a full mailbox", func() bool { return posted.Load() == MaxInbound+1 })
			tt.end(c, h)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("the reader is still blocked after the channel ended (%d posted)", posted.Load())
			}
			select {
			case <-exit:
			case <-time.After(5 * time.Second):
				t.Fatal("the channel did not exit")
			}
			// Later pushes return at once.
			returned := make(chan struct{})
			go func() {
				c.HandleIn(protocol.Message{Topic: "t", Event: "late"})
				close(returned)
			}()
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("HandleIn on an ended channel blocked")
			}
		})
	}
}
