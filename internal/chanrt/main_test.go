package chanrt_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanrt"
	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var discard = slog.New(slog.DiscardHandler)

// event is what a fakeConn saw: a frame, a ChannelClosed call, or a
// SlowConsumer call.
type event struct {
	frame   protocol.Frame
	closed  bool // ChannelClosed was called.
	crashed bool
	slow    bool // SlowConsumer was called.
}

// fakeConn is a channel.Conn that records, in order, the frames sent and
// the ChannelClosed calls (centrifuge's testTransport).
type fakeConn struct {
	ser    protocol.Serializer
	events chan event
	gone   atomic.Bool // Send reports false: the connection is closing.
	lossy  atomic.Bool // Send drops frames when the buffer is full.
}

var _ chanrt.Conn = (*fakeConn)(nil)

func newFakeConn(ser protocol.Serializer) *fakeConn {
	return &fakeConn{ser: ser, events: make(chan event, 4096)}
}

func (f *fakeConn) Serializer() protocol.Serializer { return f.ser }
func (f *fakeConn) Transport() string               { return "fake" }
func (f *fakeConn) ID() string                      { return "fake:1" }

func (f *fakeConn) Send(fr protocol.Frame) bool {
	if f.gone.Load() {
		return false
	}
	select {
	case f.events <- event{frame: fr}:
		return true
	default:
		if f.lossy.Load() {
			return true
		}
		panic("fakeConn: event buffer full")
	}
}

// SendBatch is Send: the fake has no queue to leave a frame in.
func (f *fakeConn) SendBatch(fr protocol.Frame, _ *sendbatch.Batch) bool { return f.Send(fr) }

func (f *fakeConn) ChannelClosed(_ *chanrt.Channel, crashed bool) {
	f.events <- event{closed: true, crashed: crashed}
}

// SlowConsumer records the call; the connection goes away, as a cut one
// does: Send reports false from now on.
func (f *fakeConn) SlowConsumer() {
	f.gone.Store(true)
	f.events <- event{slow: true}
}

// next returns the next event, failing the test after 5 s.
func (f *fakeConn) next(t testing.TB) event {
	t.Helper()
	select {
	case e := <-f.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
		return event{}
	}
}

// expect takes the next event, which must be a frame equal to want.
func (f *fakeConn) expect(t testing.TB, want wstest.Msg) wstest.Msg {
	t.Helper()
	e := f.next(t)
	if e.closed || e.slow {
		t.Fatalf("got ChannelClosed %v (crashed %v), SlowConsumer %v; want frame %v", e.closed, e.crashed, e.slow, want)
	}
	got, err := wstest.Decode(f.ser == protocol.V1, wstest.Frame{Data: e.frame.Data, Binary: e.frame.Binary})
	if err != nil {
		t.Fatal(err)
	}
	if !wstest.Equal(got, want) {
		t.Fatalf("got frame %v\nwant %v", got, want)
	}
	return got
}

// expectClosed takes the next event, which must be ChannelClosed.
func (f *fakeConn) expectClosed(t testing.TB, crashed bool) {
	t.Helper()
	e := f.next(t)
	if !e.closed || e.crashed != crashed {
		t.Fatalf("got %+v (frame %s), want ChannelClosed(crashed=%v)", e, e.frame.Data, crashed)
	}
}

// expectNothing checks that no event is waiting. Call it only once the
// channel has exited (see harness.exited), so that it proves something.
func (f *fakeConn) expectNothing(t testing.TB) {
	t.Helper()
	select {
	case e := <-f.events:
		t.Fatalf("unexpected event %+v (frame %s)", e, e.frame.Data)
	default:
	}
}

// harness is one channel on a fakeConn and a pubsub.Local.
type harness struct {
	ch   *chanrt.Channel
	conn *fakeConn
	ps   *pubsub.PubSub
	wg   *workq.Group
	exit chan error // The OnExit reason.
	opts *harnessOpts

	onReply func() // If set, runs as the join reply is queued.
}

type harnessOpts struct {
	ser       protocol.Serializer
	noJoinRef bool // Join without a join_ref, as V1 clients do.
	joinRef   protocol.Ref
	ref       protocol.Ref
	assigns   map[string]any
	ps        *pubsub.PubSub
	logger    *slog.Logger
	lossy     bool // The fake connection drops what it cannot hold.
	holdBytes int  // Config.HoldBytes.
}

// join makes a channel for h, joins it with payload and, when the join
// succeeds, activates it with a join reply. It waits for the channel's
// goroutines when the test ends.
func join(t testing.TB, h channel.Handler, payload string, o *harnessOpts) (*harness, protocol.Payload, bool) {
	t.Helper()
	hs := newHarness(t, h, o)
	resp, ok := hs.join(t, payload)
	return hs, resp, ok
}

// newHarness makes a channel for h, not joined yet. It waits for the
// channel's goroutines when the test ends.
func newHarness(t testing.TB, h channel.Handler, o *harnessOpts) *harness {
	t.Helper()
	if o == nil {
		o = &harnessOpts{}
	}
	if o.ser == 0 {
		o.ser = protocol.V2
	}
	if o.ref == "" {
		o.ref = protocol.StringRef("1")
	}
	if o.joinRef == "" && !o.noJoinRef {
		o.joinRef = protocol.StringRef("11")
	}
	if o.ps == nil {
		o.ps = newPubSub(t)
	}
	if o.logger == nil {
		o.logger = discard
	}
	hs := &harness{conn: newFakeConn(o.ser), ps: o.ps, wg: &workq.Group{}, exit: make(chan error, 1), opts: o}
	hs.conn.lossy.Store(o.lossy)
	hs.ch = chanrt.New(chanrt.Config{
		Topic:     "room:1",
		JoinRef:   o.joinRef,
		Ref:       o.ref,
		Handler:   h,
		Conn:      hs.conn,
		PubSub:    o.ps,
		Assigns:   o.assigns,
		Logger:    o.logger,
		Group:     hs.wg,
		HoldBytes: o.holdBytes,
	})
	chanrt.SetOnExit(hs.ch, func(reason error) { hs.exit <- reason })
	t.Cleanup(func() {
		hs.ch.Stop(channel.ErrClosed)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.wg.Wait(ctx); err != nil {
			t.Error("channel goroutines still running 5 s after the test")
		}
	})
	return hs
}

// join joins h's channel with payload and, when the join succeeds,
// activates it with a join reply. It may run in a goroutine of its own.
func (hs *harness) join(t testing.TB, payload string) (protocol.Payload, bool) {
	o := hs.opts
	if payload == "" {
		payload = "{}"
	}
	resp, outcome := hs.ch.Join(protocol.JSON([]byte(payload)))
	ok := outcome == "ok"
	if ok {
		hs.ch.Activate(func() {
			rep := protocol.Reply{JoinRef: o.joinRef, Ref: o.ref, Topic: "room:1", Status: "ok", Response: resp}
			data, bin, err := o.ser.AppendReply(nil, &rep)
			if err != nil {
				t.Error(err)
			}
			if hs.onReply != nil {
				hs.onReply()
			}
			hs.conn.Send(protocol.Frame{Data: data, Binary: bin})
		})
	}
	return resp, ok
}

// exited waits for the channel to exit and returns its reason.
func (h *harness) exited(t testing.TB) error {
	t.Helper()
	select {
	case r := <-h.exit:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("channel did not exit within 5 s")
		return nil
	}
}

// push hands the channel a client push.
func (h *harness) push(event, ref, payload string) {
	m := protocol.Message{JoinRef: protocol.StringRef("11"), Ref: protocol.Null, Topic: "room:1", Event: event, Payload: protocol.JSON([]byte(payload))}
	if ref != "" {
		m.Ref = protocol.StringRef(ref)
	}
	h.ch.HandleIn(m)
}

// newPubSub returns a single-node PubSub, closed when the test ends.
func newPubSub(t testing.TB) *pubsub.PubSub {
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close(context.Background()) })
	return ps
}

// testHandler is a configurable channel handler. Every callback reports
// what it was called with on calls, in order.
type testHandler struct {
	calls     chan string
	joinReply any
	joinErr   error
	joinPanic bool
	intercept []string
	in        func(ctx context.Context, s *channel.Socket, in *channel.Message) error
	info      func(ctx context.Context, s *channel.Socket, msg any) error
	out       func(ctx context.Context, s *channel.Socket, event string, p protocol.Payload) error
	terminate func(ctx context.Context, s *channel.Socket, reason error)
	terms     chan error
	inFlight  atomic.Int32
	overlap   atomic.Bool
}

func newHandler() *testHandler {
	return &testHandler{calls: make(chan string, 8192), terms: make(chan error, 16)}
}

func (h *testHandler) enter() func() {
	if h.inFlight.Add(1) > 1 {
		h.overlap.Store(true)
	}
	return func() { h.inFlight.Add(-1) }
}

func (h *testHandler) Join(_ context.Context, s *channel.Socket, topic string, _ protocol.Payload) (any, error) {
	if h.joinPanic {
		panic("join panic")
	}
	h.calls <- "join " + topic
	return h.joinReply, h.joinErr
}

func (h *testHandler) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	defer h.enter()()
	h.calls <- "in " + in.Event
	if h.in != nil {
		return h.in(ctx, s, in)
	}
	return in.Reply("ok", in.Payload)
}

func (h *testHandler) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	defer h.enter()()
	h.calls <- fmt.Sprint("info ", msg)
	if h.info != nil {
		return h.info(ctx, s, msg)
	}
	return nil
}

func (h *testHandler) Intercept() []string { return h.intercept }

func (h *testHandler) HandleOut(ctx context.Context, s *channel.Socket, event string, p protocol.Payload) error {
	defer h.enter()()
	h.calls <- "out " + event
	if h.out != nil {
		return h.out(ctx, s, event, p)
	}
	return s.Push(event, p)
}

func (h *testHandler) Terminate(ctx context.Context, s *channel.Socket, reason error) {
	defer h.enter()()
	if h.terminate != nil {
		h.terminate(ctx, s, reason)
	}
	h.terms <- reason
}

// call takes the next recorded call.
func (h *testHandler) call(t testing.TB) string {
	t.Helper()
	select {
	case c := <-h.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no handler call within 5 s")
		return ""
	}
}
