package chanrt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

const null = wstest.Null

func reply(ref, status, response string) wstest.Msg {
	return wstest.Reply("11", ref, "room:1", status, response)
}

func push(event, payload string) wstest.Msg {
	return wstest.M("11", null, "room:1", event, payload)
}

func TestJoinOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(h *testHandler)
		resp  string
		ok    bool
	}{
		{"ok", func(h *testHandler) {}, `{}`, true},
		{"ok with reply", func(h *testHandler) { h.joinReply = map[string]int{"a": 1} }, `{"a":1}`, true},
		{"raw reply", func(h *testHandler) { h.joinReply = json.RawMessage(`[1,2]`) }, `[1,2]`, true},
		{"refused", func(h *testHandler) { h.joinErr = channel.Refuse(map[string]string{"reason": "no"}) }, `{"reason":"no"}`, false},
		{"error", func(h *testHandler) { h.joinErr = errors.New("denied") }, `{"reason":"denied"}`, false},
		{"panic", func(h *testHandler) { h.joinPanic = true }, `{"reason":"join crashed"}`, false},
		{"unencodable reply", func(h *testHandler) { h.joinReply = make(chan int) }, `{"reason":"join crashed"}`, false},
		{"unencodable refusal", func(h *testHandler) { h.joinErr = channel.Refuse(func() {}) }, `{"reason":"join crashed"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler()
			tt.setup(h)
			hs, resp, ok := join(t, h, "", nil)
			if ok != tt.ok || !wstest.JSONEqual(string(resp.Bytes()), tt.resp) {
				t.Fatalf("Join = %s, %v; want %s, %v", resp.Bytes(), ok, tt.resp, tt.ok)
			}
			if ok {
				hs.conn.expect(t, reply("1", "ok", tt.resp))
				if n := hs.ps.Subscribers("room:1"); n != 1 {
					t.Fatalf("%d subscribers after the join, want 1", n)
				}
				return
			}
			// A refused channel is dead: not subscribed, its context is
			// canceled and it takes no work.
			if n := hs.ps.Subscribers("room:1"); n != 0 {
				t.Fatalf("%d subscribers after a refused join", n)
			}
			if hs.ch.Socket().Context().Err() == nil {
				t.Fatal("context of a refused channel not canceled")
			}
			if hs.ch.Socket().Send("x") {
				t.Fatal("Send to a refused channel returned true")
			}
			hs.push("echo", "1", `{}`) // Must not block nor run.
			select {
			case r := <-h.terms:
				t.Fatalf("Terminate(%v) ran for a refused join", r)
			default:
			}
		})
	}
}

func TestJoinRefs(t *testing.T) {
	t.Parallel()
	// V2: the client's join_ref.
	hs, _, _ := join(t, newHandler(), "", nil)
	if hs.ch.ClientJoinRef() != protocol.StringRef("11") || hs.ch.JoinRef() != protocol.StringRef("11") || hs.ch.Socket().JoinRef() != protocol.StringRef("11") {
		t.Fatalf("V2 refs: %s %s %s", hs.ch.ClientJoinRef(), hs.ch.JoinRef(), hs.ch.Socket().JoinRef())
	}
	// No join_ref (V1): the channel's frames use the join's ref, but its
	// JoinRef (for phx_close and phx_error) stays null.
	hs, _, _ = join(t, newHandler(), "", &harnessOpts{noJoinRef: true, ref: protocol.StringRef("5")})
	if !hs.ch.ClientJoinRef().IsNull() || hs.ch.JoinRef() != protocol.StringRef("5") {
		t.Fatalf("null join_ref: JoinRef %q EncodeJoinRef %q", hs.ch.ClientJoinRef(), hs.ch.JoinRef())
	}
}

func TestSocketAccessors(t *testing.T) {
	t.Parallel()
	assigns := map[string]any{"user": "ann"}
	h := newHandler()
	var got map[string]any
	h.in = func(_ context.Context, s *channel.Socket, in *channel.Message) error {
		s.Assigns["changed"] = true
		got = map[string]any{"topic": s.Topic(), "id": s.ID(), "transport": s.Transport(), "user": s.Assigns["user"]}
		return in.Reply("ok", got)
	}
	hs, _, _ := join(t, h, "", &harnessOpts{assigns: assigns})
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("who", "2", `{}`)
	hs.conn.expect(t, reply("2", "ok", `{"topic":"room:1","id":"fake:1","transport":"fake","user":"ann"}`))
	if _, ok := assigns["changed"]; ok {
		t.Fatal("the channel changed the connection's assigns map")
	}
	if hs.ch.Topic() != "room:1" {
		t.Fatalf("Topic %q", hs.ch.Topic())
	}
}

func TestMailboxOrder(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.info = func(_ context.Context, s *channel.Socket, msg any) error {
		return s.Push("info", map[string]any{"msg": msg})
	}
	// Work sent during Join runs after the join reply.
	var sock *channel.Socket
	h2 := &sendOnJoin{testHandler: h, sock: &sock}
	hs, _, _ := join(t, h2, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.conn.expect(t, push("info", `{"msg":"after_join"}`))

	// Pushes and messages from several goroutines are each handled in
	// the order their sender posted them, one callback at a time.
	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			hs.push("echo", strconv.Itoa(100+i), `{}`)
		}
	})
	wg.Go(func() {
		for i := range n {
			sock.Send(i)
		}
	})
	wg.Wait()
	nextIn, nextInfo := 0, 0
	for range 2 * n {
		e := hs.conn.next(t)
		m, err := wstest.Decode(false, wstest.Frame{Data: e.frame.Data})
		if err != nil {
			t.Fatal(err)
		}
		switch m.Event {
		case "phx_reply":
			if m.Ref != strconv.Itoa(100+nextIn) {
				t.Fatalf("reply %s, want ref %d", m, 100+nextIn)
			}
			nextIn++
		case "info":
			if !wstest.JSONEqual(m.Payload, fmt.Sprintf(`{"msg":%d}`, nextInfo)) {
				t.Fatalf("info %s, want msg %d", m, nextInfo)
			}
			nextInfo++
		default:
			t.Fatalf("unexpected %s", m)
		}
	}
	if h.overlap.Load() {
		t.Fatal("two callbacks of one channel ran at the same time")
	}
}

// sendOnJoin sends itself "after_join" from Join, as Phoenix apps do.
type sendOnJoin struct {
	*testHandler
	sock **channel.Socket
}

func (h *sendOnJoin) Join(ctx context.Context, s *channel.Socket, topic string, p protocol.Payload) (any, error) {
	*h.sock = s
	if !s.Send("after_join") {
		return nil, errors.New("Send during Join failed")
	}
	return h.testHandler.Join(ctx, s, topic, p)
}

func TestPanicsRecovered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(h *testHandler)
		trigger func(hs *harness)
	}{
		{"HandleIn", func(h *testHandler) {
			h.in = func(context.Context, *channel.Socket, *channel.Message) error { panic("in") }
		}, func(hs *harness) { hs.push("boom", "2", `{}`) }},
		{"HandleInfo", func(h *testHandler) {
			h.info = func(context.Context, *channel.Socket, any) error { panic("info") }
		}, func(hs *harness) { hs.ch.Socket().Send("boom") }},
		{"HandleOut", func(h *testHandler) {
			h.intercept = []string{"boom"}
			h.out = func(context.Context, *channel.Socket, string, protocol.Payload) error { panic("out") }
		}, func(hs *harness) {
			hs.ps.LocalBroadcast(&pubsub.Message{Topic: "room:1", Event: "boom", Payload: protocol.JSON([]byte(`{}`))})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler()
			h.terminate = func(_ context.Context, s *channel.Socket, _ error) { _ = s.Push("bye", nil) }
			tt.setup(h)
			hs, _, _ := join(t, h, "", nil)
			hs.conn.expect(t, reply("1", "ok", `{}`))
			tt.trigger(hs)
			// A crash: Terminate (and its push) first, then ChannelClosed
			// with crashed set, so that phx_error is the last frame.
			hs.conn.expect(t, push("bye", `{}`))
			hs.conn.expectClosed(t, true)
			reason := hs.exited(t)
			var pe *channel.PanicError
			if !errors.As(reason, &pe) || pe.Value != map[string]string{"HandleIn": "in", "HandleInfo": "info", "HandleOut": "out"}[tt.name] || len(pe.Stack) == 0 {
				t.Fatalf("reason %#v, want a *PanicError with a stack", reason)
			}
			if channel.IsNormal(reason) {
				t.Fatal("IsNormal(panic) is true")
			}
			if r := <-h.terms; r != reason {
				t.Fatalf("Terminate reason %v, OnExit reason %v", r, reason)
			}
			if n := hs.ps.Subscribers("room:1"); n != 0 {
				t.Fatalf("%d subscribers after the crash", n)
			}
			hs.conn.expectNothing(t)
		})
	}
}

func TestTerminatePanicRecovered(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.in = func(context.Context, *channel.Socket, *channel.Message) error { return channel.ErrStop }
	h.terminate = func(context.Context, *channel.Socket, error) { panic("terminate") }
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("stop", "2", `{}`)
	hs.conn.expectClosed(t, false)
	if r := hs.exited(t); r != channel.ErrStop {
		t.Fatalf("reason %v, want ErrStop", r)
	}
}

func TestTerminateReasons(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		trigger func(hs *harness)
		reason  error
		// Frames and ChannelClosed calls after the join reply, in order.
		want func(t *testing.T, c *fakeConn)
	}{
		{"leave", func(hs *harness) {
			hs.ch.Leave(protocol.Message{Ref: protocol.StringRef("2"), Topic: "room:1", Event: "phx_leave"})
		}, channel.ErrLeft, func(t *testing.T, c *fakeConn) {
			c.expect(t, reply("2", "ok", `{}`))
			c.expectClosed(t, false)
			c.expect(t, push("bye", `{}`))
		}},
		{"ErrStop", func(hs *harness) { hs.push("stop", "2", `{}`) }, channel.ErrStop, func(t *testing.T, c *fakeConn) {
			c.expectClosed(t, false)
			c.expect(t, push("bye", `{}`))
		}},
		{"error", func(hs *harness) { hs.push("fail", "2", `{}`) }, errBoom, func(t *testing.T, c *fakeConn) {
			c.expect(t, push("bye", `{}`))
			c.expectClosed(t, true)
		}},
		{"connection closed", func(hs *harness) { hs.ch.Stop(channel.ErrClosed) }, channel.ErrClosed, func(t *testing.T, c *fakeConn) {
			c.expect(t, push("bye", `{}`)) // No ChannelClosed: the connection ended it.
		}},
		{"disconnected", func(hs *harness) { hs.ch.Stop(channel.ErrDisconnected) }, channel.ErrDisconnected, func(t *testing.T, c *fakeConn) {
			c.expect(t, push("bye", `{}`))
		}},
		{"shutdown", func(hs *harness) { hs.ch.Stop(channel.ErrShutdown) }, channel.ErrShutdown, func(t *testing.T, c *fakeConn) {
			c.expect(t, push("bye", `{}`))
		}},
		{"duplicate join", func(hs *harness) { hs.ch.Kill() }, channel.ErrDuplicateJoin, func(t *testing.T, c *fakeConn) {
			// Muted: Terminate's push is dropped.
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler()
			h.in = func(_ context.Context, _ *channel.Socket, in *channel.Message) error {
				switch in.Event {
				case "stop":
					return channel.ErrStop
				case "fail":
					return errBoom
				}
				return nil
			}
			h.terminate = func(_ context.Context, s *channel.Socket, _ error) { _ = s.Push("bye", nil) }
			hs, _, _ := join(t, h, "", nil)
			hs.conn.expect(t, reply("1", "ok", `{}`))
			tt.trigger(hs)
			if r := hs.exited(t); r != tt.reason {
				t.Fatalf("OnExit reason %v, want %v", r, tt.reason)
			}
			if r := <-h.terms; r != tt.reason {
				t.Fatalf("Terminate reason %v, want %v", r, tt.reason)
			}
			tt.want(t, hs.conn)
			hs.conn.expectNothing(t)
			if hs.ch.Socket().Context().Err() == nil {
				t.Fatal("context not canceled after the channel ended")
			}
			if hs.ch.Socket().Send("late") {
				t.Fatal("Send after the channel ended returned true")
			}
			if n := hs.ps.Subscribers("room:1"); n != 0 {
				t.Fatalf("%d subscribers after the channel ended", n)
			}
		})
	}
}

func TestIsNormal(t *testing.T) {
	t.Parallel()
	for _, err := range []error{nil, channel.ErrStop, channel.ErrLeft, channel.ErrClosed, channel.ErrDisconnected, channel.ErrShutdown, channel.ErrDuplicateJoin, fmt.Errorf("done: %w", channel.ErrStop)} {
		if !channel.IsNormal(err) {
			t.Errorf("IsNormal(%v) = false", err)
		}
	}
	for _, err := range []error{errors.New("x"), &channel.PanicError{Value: 1}, channel.ErrNotJoined} {
		if channel.IsNormal(err) {
			t.Errorf("IsNormal(%v) = true", err)
		}
	}
}

func TestReplyRefAfterExit(t *testing.T) {
	t.Parallel()
	h := newHandler()
	refs := make(chan channel.ReplyRef, 1)
	h.in = func(_ context.Context, _ *channel.Socket, in *channel.Message) error {
		refs <- in.ReplyRef()
		return channel.ErrStop
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("later", "7", `{}`)
	hs.conn.expectClosed(t, false)
	hs.exited(t)
	ref := <-refs
	// The channel has ended; the reply still goes out, from this
	// goroutine, with the channel's join_ref and the push's ref.
	if err := ref.Reply("ok", map[string]string{"late": "yes"}); err != nil {
		t.Fatal(err)
	}
	hs.conn.expect(t, reply("7", "ok", `{"late":"yes"}`))
	// Several replies are allowed.
	if err := ref.Reply("error", nil); err != nil {
		t.Fatal(err)
	}
	hs.conn.expect(t, reply("7", "error", `{}`))
	// Once the connection is gone, the reply reports it.
	hs.conn.gone.Store(true)
	if err := ref.Reply("ok", nil); !errors.Is(err, channel.ErrNotJoined) {
		t.Fatalf("Reply on a closed connection: %v, want ErrNotJoined", err)
	}
	// The zero ReplyRef does nothing.
	if err := (channel.ReplyRef{}).Reply("ok", nil); err != nil {
		t.Fatal(err)
	}
}

func TestReplyWithoutRefDropped(t *testing.T) {
	t.Parallel()
	h := newHandler() // Replies ok with the payload.
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("noref", "", `{"a":1}`)
	hs.push("withref", "3", `{"b":2}`)
	// The reply to the push without a ref was dropped: the next frame is
	// the second push's reply.
	hs.conn.expect(t, reply("3", "ok", `{"b":2}`))
}

func TestReplyStatusesAndBinary(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.in = func(_ context.Context, _ *channel.Socket, in *channel.Message) error {
		switch in.Event {
		case "status":
			return in.Reply("custom", nil)
		case "binary":
			return in.Reply("ok", protocol.Binary([]byte{1, 2, 3}))
		case "bad":
			if err := in.Reply("ok", make(chan int)); err == nil {
				return errors.New("unencodable reply: no error")
			}
			return in.Reply("ok", "unencodable refused")
		}
		return nil
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("status", "2", `{}`)
	hs.conn.expect(t, reply("2", "custom", `{}`))
	hs.push("binary", "3", `{}`)
	hs.conn.expect(t, wstest.Msg{JoinRef: "11", Ref: "3", Topic: "room:1", Event: "phx_reply", Status: "ok", Payload: "\x01\x02\x03", Binary: true})
	hs.push("bad", "4", `{}`)
	hs.conn.expect(t, reply("4", "ok", `"unencodable refused"`))
}

func TestPushPayloads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ser     protocol.Serializer
		payload any
		err     error  // errors.Is target; nil for success
		want    string // JSON payload on the wire
	}{
		{"V2 object", protocol.V2, map[string]int{"a": 1}, nil, `{"a":1}`},
		{"V2 nil", protocol.V2, nil, nil, `{}`},
		{"V2 array", protocol.V2, []int{1, 2}, protocol.ErrPayloadNotObject, ""},
		{"V2 string", protocol.V2, "text", protocol.ErrPayloadNotObject, ""},
		{"V2 raw array", protocol.V2, json.RawMessage(`[1]`), protocol.ErrPayloadNotObject, ""},
		{"V1 array", protocol.V1, []int{1, 2}, nil, `[1,2]`},
		{"V1 binary", protocol.V1, protocol.Binary([]byte{1}), protocol.ErrBinaryNotSupported, ""},
		{"unencodable", protocol.V2, make(chan int), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler()
			errs := make(chan error, 1)
			h.in = func(_ context.Context, s *channel.Socket, _ *channel.Message) error {
				errs <- s.Push("p", tt.payload)
				return nil
			}
			hs, _, _ := join(t, h, "", &harnessOpts{ser: tt.ser})
			jr := "11"
			if tt.ser == protocol.V1 {
				jr = null
			}
			hs.conn.expect(t, wstest.Reply(jr, "1", "room:1", "ok", `{}`))
			hs.push("go", "", `{}`)
			err := <-errs
			switch {
			case tt.name == "unencodable":
				if err == nil {
					t.Fatal("Push of a chan: no error")
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("Push: %v, want %v", err, tt.err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				hs.conn.expect(t, wstest.M(jr, null, "room:1", "p", tt.want))
			}
		})
	}
}

func TestPushNonObjectCrashesWhenReturned(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.in = func(_ context.Context, s *channel.Socket, _ *channel.Message) error {
		return s.Push("list", []int{1})
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("go", "2", `{}`)
	hs.conn.expectClosed(t, true)
	if r := hs.exited(t); !errors.Is(r, protocol.ErrPayloadNotObject) {
		t.Fatalf("reason %v, want ErrPayloadNotObject", r)
	}
}

func TestPushBinaryV2(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.in = func(_ context.Context, s *channel.Socket, _ *channel.Message) error {
		return s.Push("bin", protocol.Binary([]byte{0, 1}))
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("go", "2", `{}`)
	hs.conn.expect(t, wstest.Msg{JoinRef: "11", Ref: null, Topic: "room:1", Event: "bin", Payload: "\x00\x01", Binary: true})
}

func TestPushAfterConnectionGone(t *testing.T) {
	t.Parallel()
	h := newHandler()
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.conn.gone.Store(true)
	if err := hs.ch.Socket().Push("x", nil); !errors.Is(err, channel.ErrNotJoined) {
		t.Fatalf("Push on a closed connection: %v, want ErrNotJoined", err)
	}
}

func TestFastLaneAndIntercept(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.intercept = []string{"hooked"}
	h.out = func(_ context.Context, s *channel.Socket, event string, p protocol.Payload) error {
		if string(p.Bytes()) == `{"drop":true}` {
			return nil
		}
		return s.Push(event, map[string]json.RawMessage{"wrapped": p.Bytes()})
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))

	m := &pubsub.Message{Topic: "room:1", Event: "plain", Payload: protocol.JSON([]byte(`{"n":1}`))}
	hs.ps.LocalBroadcast(m)
	e := hs.conn.next(t)
	// The fast lane writes the message's cached frame: the same bytes.
	f, err := m.Frame(protocol.V2)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.frame.Data) == 0 || &e.frame.Data[0] != &f.Data[0] {
		t.Fatal("fast-lane frame is not the message's cached encoding")
	}
	if !wstest.JSONEqual(string(e.frame.Data), `[null,null,"room:1","plain",{"n":1}]`) {
		t.Fatalf("fast-lane frame %s", e.frame.Data)
	}
	if len(h.calls) != 1 { // Only "join": the channel was not woken.
		t.Fatalf("handler calls %d, want 1", len(h.calls))
	}

	hs.ps.LocalBroadcast(&pubsub.Message{Topic: "room:1", Event: "hooked", Payload: protocol.JSON([]byte(`{"drop":true}`))})
	hs.ps.LocalBroadcast(&pubsub.Message{Topic: "room:1", Event: "hooked", Payload: protocol.JSON([]byte(`{"n":2}`))})
	hs.conn.expect(t, push("hooked", `{"wrapped":{"n":2}}`))

	// A broadcast that V2 cannot encode is dropped, not sent.
	hs.ps.LocalBroadcast(&pubsub.Message{Topic: "room:1", Event: "plain", Payload: protocol.JSON([]byte(`[1]`))})
	hs.push("echo", "5", `{}`)
	hs.conn.expect(t, reply("5", "ok", `{}`))
}

func TestBroadcastFrom(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t)
	h := newHandler()
	h.in = func(ctx context.Context, s *channel.Socket, in *channel.Message) error {
		switch in.Event {
		case "from":
			return s.BroadcastFrom(ctx, "b", map[string]string{"x": "from"})
		case "echo":
			return in.Reply("ok", nil)
		}
		if err := s.Broadcast(ctx, "b", map[string]string{"x": "all"}); err != nil {
			return err
		}
		if err := s.Broadcast(ctx, "b", []int{1}); !errors.Is(err, protocol.ErrPayloadNotObject) {
			return fmt.Errorf("broadcast of an array: %v", err)
		}
		return nil
	}
	hs, _, _ := join(t, h, "", &harnessOpts{ps: ps})
	hs.conn.expect(t, reply("1", "ok", `{}`))
	got := make(chan string, 4)
	other, err := ps.Subscribe("room:1", pubsub.SubscriberFunc(func(m *pubsub.Message) { got <- string(m.Payload.Bytes()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unsubscribe()

	hs.push("from", "", `{}`)
	hs.push("all", "", `{}`)
	// The channel got only the second broadcast; the other subscriber both.
	hs.conn.expect(t, wstest.M(null, null, "room:1", "b", `{"x":"all"}`))
	if a, b := <-got, <-got; a != `{"x":"from"}` || b != `{"x":"all"}` {
		t.Fatalf("other subscriber got %s, %s", a, b)
	}
	hs.push("echo", "9", `{}`)
	hs.conn.expect(t, reply("9", "ok", `{}`)) // No crash from the array broadcast.
}

func TestKillDropsQueuedWork(t *testing.T) {
	t.Parallel()
	h := newHandler()
	gate := make(chan struct{})
	h.in = func(_ context.Context, _ *channel.Socket, in *channel.Message) error {
		if in.Event == "block" {
			<-gate
		}
		return in.Reply("ok", nil)
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("block", "", `{}`)
	if c := h.call(t); c != "join room:1" {
		t.Fatalf("call %q", c)
	}
	if c := h.call(t); c != "in block" {
		t.Fatalf("call %q", c)
	}
	for i := range 5 {
		hs.push("queued", strconv.Itoa(10+i), `{}`)
	}
	hs.ch.Socket().Send("queued info")
	hs.ch.Kill()
	if n := hs.ps.Subscribers("room:1"); n != 0 {
		t.Fatalf("%d subscribers right after Kill", n)
	}
	// Broadcasts after Kill are not delivered.
	hs.ps.LocalBroadcast(&pubsub.Message{Topic: "room:1", Event: "late", Payload: protocol.JSON([]byte(`{}`))})
	close(gate)
	if r := hs.exited(t); r != channel.ErrDuplicateJoin {
		t.Fatalf("reason %v, want ErrDuplicateJoin", r)
	}
	if len(h.calls) != 0 {
		t.Fatalf("queued work ran after Kill: %q", <-h.calls)
	}
	hs.conn.expectNothing(t)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	if err := channel.Refuse("x"); err.Error() != "channel: join refused: x" {
		t.Errorf("Refuse: %q", err)
	}
	if err := (&channel.PanicError{Value: "v"}); err.Error() != "channel: panic: v" {
		t.Errorf("PanicError: %q", err)
	}
	var je *channel.JoinError
	if !errors.As(fmt.Errorf("wrapped: %w", channel.Refuse(1)), &je) || je.Response != 1 {
		t.Error("JoinError not found through wrapping")
	}
}

// Pushes are refused before the join reply is queued (inside Join) and
// once Terminate has run, so that the join reply is always the channel's
// first frame and nothing follows the channel's end.
func TestPushOutsideTheChannelsLife(t *testing.T) {
	t.Parallel()
	joinErr := make(chan error, 1)
	h := &pushInJoin{testHandler: newHandler(), joinErr: joinErr}
	hs, _, _ := join(t, h, "", nil)
	if err := <-joinErr; !errors.Is(err, channel.ErrNotJoined) {
		t.Fatalf("Push inside Join: %v, want ErrNotJoined", err)
	}
	hs.conn.expect(t, reply("1", "ok", `{}`))
	sock := hs.ch.Socket()
	if err := sock.Push("ok", nil); err != nil {
		t.Fatalf("Push after the join: %v", err)
	}
	hs.conn.expect(t, push("ok", `{}`))

	hs.ch.Stop(channel.ErrClosed)
	hs.exited(t)
	if err := sock.Push("late", nil); !errors.Is(err, channel.ErrNotJoined) {
		t.Fatalf("Push after Terminate: %v, want ErrNotJoined", err)
	}
	hs.conn.expectNothing(t)
}

type pushInJoin struct {
	*testHandler
	joinErr chan error
}

func (h *pushInJoin) Join(ctx context.Context, s *channel.Socket, topic string, p protocol.Payload) (any, error) {
	h.joinErr <- s.Push("early", nil)
	return h.testHandler.Join(ctx, s, topic, p)
}

// Socket.Subscribe: broadcasts on another topic reach HandleInfo as
// channel.Broadcast values, in order with the channel's other messages,
// until Unsubscribe or the channel's end.
func TestSubscribe(t *testing.T) {
	t.Parallel()
	h := newHandler()
	h.in = func(_ context.Context, s *channel.Socket, in *channel.Message) error {
		switch in.Event {
		case "sub":
			if err := s.Subscribe("news"); err != nil {
				return err
			}
		case "unsub":
			s.Unsubscribe("news")
		}
		return in.Reply("ok", nil)
	}
	infos := make(chan any, 8)
	h.info = func(_ context.Context, _ *channel.Socket, msg any) error {
		infos <- msg
		return nil
	}
	hs, _, _ := join(t, h, "", nil)
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("sub", "2", `{}`)
	hs.conn.expect(t, reply("2", "ok", `{}`))
	if n := hs.ps.Subscribers("news"); n != 1 {
		t.Fatalf("news has %d subscribers, want 1", n)
	}
	if err := hs.ps.LocalBroadcast(&pubsub.Message{Topic: "news", Event: "flash", Payload: protocol.JSON([]byte(`{"a":1}`))}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-infos:
		b, ok := got.(channel.Broadcast)
		if !ok || b.Topic != "news" || b.Event != "flash" || string(b.Payload.Bytes()) != `{"a":1}` {
			t.Fatalf("HandleInfo got %#v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no broadcast in HandleInfo")
	}
	hs.conn.expectNothing(t) // Not fast-laned to the client.
	hs.push("unsub", "3", `{}`)
	hs.conn.expect(t, reply("3", "ok", `{}`))
	if n := hs.ps.Subscribers("news"); n != 0 {
		t.Fatalf("news has %d subscribers after Unsubscribe", n)
	}
	hs.push("sub", "4", `{}`)
	hs.conn.expect(t, reply("4", "ok", `{}`))
	hs.ch.Stop(channel.ErrClosed)
	hs.exited(t)
	if n := hs.ps.Subscribers("news"); n != 0 {
		t.Fatalf("news has %d subscribers after the channel ended", n)
	}
	if err := hs.ch.Socket().Subscribe("late"); !errors.Is(err, channel.ErrNotJoined) {
		t.Fatalf("Subscribe after the end: %v, want ErrNotJoined", err)
	}
}

// A subscription made in Join ends with a refused or crashed join, which
// has no Terminate; deliveries made during a successful Join wait for the
// join reply.
func TestSubscribeInJoin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"accepted", nil, true},
		{"refused", channel.Refuse(map[string]string{"reason": "no"}), false},
		{"crashed", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := newPubSub(t)
			h := &subscribeInJoin{testHandler: newHandler(), ps: ps, err: tt.err, crash: tt.name == "crashed"}
			infos := make(chan any, 1)
			h.info = func(_ context.Context, _ *channel.Socket, msg any) error {
				infos <- msg
				return nil
			}
			hs, _, ok := join(t, h, "", &harnessOpts{ps: ps})
			if ok != tt.ok {
				t.Fatalf("join ok = %v, want %v", ok, tt.ok)
			}
			want := 0
			if tt.ok {
				want = 1
				hs.conn.expect(t, reply("1", "ok", `{}`))
				select {
				case got := <-infos:
					if b, ok := got.(channel.Broadcast); !ok || b.Event != "during_join" {
						t.Fatalf("HandleInfo got %#v", got)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the broadcast made during Join never reached HandleInfo")
				}
			}
			if n := ps.Subscribers("news"); n != want {
				t.Fatalf("news has %d subscribers, want %d", n, want)
			}
		})
	}
}

type subscribeInJoin struct {
	*testHandler
	ps    *pubsub.PubSub
	err   error
	crash bool
}

func (h *subscribeInJoin) Join(ctx context.Context, s *channel.Socket, topic string, p protocol.Payload) (any, error) {
	if err := s.Subscribe("news"); err != nil {
		return nil, err
	}
	_ = h.ps.LocalBroadcast(&pubsub.Message{Topic: "news", Event: "during_join", Payload: protocol.JSON([]byte(`{}`))})
	if h.crash {
		panic("join crash")
	}
	return nil, h.err
}

// joinOnly implements Join and nothing else.
type joinOnly struct{}

func (joinOnly) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

// A push to a handler without HandleIn crashes the channel, as a Phoenix
// channel without a matching handle_in clause does, and the log line says
// which method is missing.
func TestPushWithoutHandleIn(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	hs, _, _ := join(t, joinOnly{}, "", &harnessOpts{logger: logger})
	hs.conn.expect(t, reply("1", "ok", `{}`))
	hs.push("anything", "2", `{}`)
	hs.conn.expectClosed(t, true) // phx_error
	if r := hs.exited(t); channel.IsNormal(r) {
		t.Fatalf("reason %v, want a crash", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "has no HandleIn method (channel.InHandler)") {
		t.Fatalf("the crash log does not name the missing method:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// subscribeFromJoin starts subscribing to many topics from a goroutine
// of its Join, while the join completes.
type subscribeFromJoin struct {
	*testHandler
	done chan struct{}
}

func (h *subscribeFromJoin) Join(ctx context.Context, s *channel.Socket, topic string, p protocol.Payload) (any, error) {
	go func() {
		defer close(h.done)
		// The channel's own topic, whose shard the flooding broadcasts
		// hold, and others.
		for i := range 128 {
			_ = s.Subscribe(topic)
			s.Unsubscribe(topic)
			_ = s.Subscribe("other:" + strconv.Itoa(i))
		}
	}()
	return nil, nil
}

// Socket.Subscribe from another goroutine while the join completes and
// broadcasts flood the channel's topic: no lock cycle between the join
// gate, the subscription lock and the PubSub's shard locks.
func TestSubscribeDuringActivate(t *testing.T) {
	t.Parallel()
	for range 200 {
		ps := newPubSub(t)
		stop := make(chan struct{})
		flooded := make(chan struct{})
		go func() {
			defer close(flooded)
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = ps.LocalBroadcast(&pubsub.Message{Topic: "room:1", Event: "e", Payload: protocol.JSON([]byte(`{}`))})
			}
		}()
		h := &subscribeFromJoin{testHandler: newHandler(), done: make(chan struct{})}
		joined := make(chan struct{})
		go func() {
			defer close(joined)
			join(t, h, "", &harnessOpts{ps: ps, lossy: true})
		}()
		for _, ch := range []chan struct{}{joined, h.done} {
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				close(stop)
				t.Fatal("join or Subscribe stuck: a lock cycle")
			}
		}
		close(stop)
		<-flooded
	}
}
