package socket_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/socket"
)

// docs/protocol.md, "Inbound dispatch" over a real WebSocket, once per serializer.

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		heartbeat(t, c) // Before any join.

		// A channel joined on topic "phoenix" does not see heartbeats:
		// they are answered first, by the socket, with a null join_ref.
		joinOK(t, c, m, "phoenix", "")
		heartbeat(t, c)
		echo(t, c, m, "phoenix", `{"n":1}`)
		if got := s.rec.events("phoenix"); len(got) != 1 || got[0] != "echo" {
			t.Fatalf("channel on topic phoenix handled %v, want only [echo]", got)
		}
	})
}

func TestJoinThenAfterJoinInOrder(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr, ref := c.Join("room:lobby", `{"after_join":true,"user":"ann"}`)
		// The join reply comes first, then what the channel does after
		// the join, in order: its broadcast (fast lane, no refs) and its push.
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:lobby", "ok", `{}`))
		c.Expect(wstest.M(wstest.Null, wstest.Null, "room:lobby", "user_entered", `{"user":"ann"}`))
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:lobby", "joined", `{"status":"connected","user_id":null}`))
	})
}

func TestJoinReplyResponse(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr, ref := c.Join("room:r", `{"reply":{"welcome":[1,2]}}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:r", "ok", `{"welcome":[1,2]}`))
		jr, ref = c.Join("bare:1", "")
		c.Expect(wstest.Reply(m.jr(jr), ref, "bare:1", "ok", `{"bare":"yes"}`))
	})
}

func TestJoinRefused(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr, ref := c.Join("room:r", `{"reject":true}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:r", "error", `{"reason":"rejected"}`))
		jr, ref = c.Join("room:e", `{"error":"nope"}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:e", "error", `{"reason":"nope"}`))
		// No phx_close follows a refused join: the heartbeat reply is next.
		heartbeat(t, c)
		// The refused channel was not recorded: joining again is a fresh
		// join, not a duplicate (which would send phx_close).
		joinOK(t, c, m, "room:r", "")
		heartbeat(t, c)
		if n := len(s.rec.terminations("room:r")); n != 0 {
			t.Fatalf("Terminate ran %d times for a refused join", n)
		}
	})
}

func TestJoinCrash(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr, ref := c.Join("room:c", `{"crash":true}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:c", "error", `{"reason":"join crashed"}`))
		heartbeat(t, c)
		joinOK(t, c, m, "room:c", "")
	})
}

func TestJoinUnmatchedTopic(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		_, ref := c.Join("nomatch", "")
		// join_ref is null in this reply, even for V2.
		c.Expect(wstest.Reply(wstest.Null, ref, "nomatch", "error", `{"reason":"unmatched topic"}`))
	})
}

func TestEventToUnjoinedTopic(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		ref := c.NextRef()
		c.Send("42", ref, "room:x", "echo", `{}`)
		c.Expect(wstest.Reply(wstest.Null, ref, "room:x", "error", `{"reason":"unmatched topic"}`))
		heartbeat(t, c) // No phx_close nor phx_error.
		if got := s.rec.events("room:x"); len(got) != 0 {
			t.Fatalf("events handled on an unjoined topic: %v", got)
		}
	})
}

func TestLeaveUnjoinedTopic(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		ref := c.NextRef()
		c.Send("42", ref, "room:x", "phx_leave", `{}`)
		// The reply echoes the client's join_ref and ref (V1 carries no
		// join_ref); no phx_close follows.
		c.Expect(wstest.Reply(m.jr("42"), ref, "room:x", "ok", `{}`))
		heartbeat(t, c)
	})
}

func TestLeave(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:l", "")
		ref := c.Leave("room:l")
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:l", "ok", `{}`))
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:l", "phx_close", `{}`))
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:l", "you_left", `{"message":"bye!"}`))
		if err := s.rec.waitTerminated(t, "room:l", 1); !errors.Is(err, channel.ErrLeft) {
			t.Fatalf("Terminate reason %v, want ErrLeft", err)
		}
		// The channel is gone.
		ref = c.Push("room:l", "echo", `{}`)
		c.Expect(wstest.Reply(wstest.Null, ref, "room:l", "error", `{"reason":"unmatched topic"}`))
	})
}

func TestStop(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:s", "")
		c.Push("room:s", "stop", `{}`)
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:s", "phx_close", `{}`))
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:s", "you_left", `{"message":"bye!"}`))
		if err := s.rec.waitTerminated(t, "room:s", 1); err != channel.ErrStop {
			t.Fatalf("Terminate reason %v, want ErrStop", err)
		}

		// With a reply, the reply goes first.
		jr = joinOK(t, c, m, "room:s", "")
		ref := c.Push("room:s", "stop_reply", `{}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:s", "ok", `{"bye":true}`))
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:s", "phx_close", `{}`))
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:s", "you_left", `{"message":"bye!"}`))
		if err := s.rec.waitTerminated(t, "room:s", 2); !errors.Is(err, channel.ErrStop) || err == channel.ErrStop {
			t.Fatalf("Terminate reason %v, want the wrapped ErrStop", err)
		}
		heartbeat(t, c)
	})
}

func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jrA := joinOK(t, c, m, "room:a", "")
		joinOK(t, c, m, "room:b", "")
		c.Push("room:a", "boom", `{}`)
		// Terminate runs (its push goes out), then phx_error with
		// ref == join_ref.
		c.Expect(wstest.M(m.jr(jrA), wstest.Null, "room:a", "you_left", `{"message":"bye!"}`))
		c.Expect(wstest.M(m.jr(jrA), m.jr(jrA), "room:a", "phx_error", `{"reason":"channel_crash"}`))
		var pe *channel.PanicError
		if err := s.rec.waitTerminated(t, "room:a", 1); !errors.As(err, &pe) || pe.Value != "boom requested" || len(pe.Stack) == 0 {
			t.Fatalf("Terminate reason %#v, want a *PanicError with a stack", err)
		}
		// The socket and the other channel keep working, and the crashed
		// topic can be joined again.
		echo(t, c, m, "room:b", `{"still":"here"}`)
		heartbeat(t, c)
		joinOK(t, c, m, "room:a", "")
		echo(t, c, m, "room:a", `{}`)
	})
}

func TestHandlerError(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:f", "")
		c.Push("room:f", "fail", `{}`)
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:f", "you_left", `{"message":"bye!"}`))
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:f", "phx_error", `{"reason":"channel_crash"}`))
		if err := s.rec.waitTerminated(t, "room:f", 1); err == nil || err.Error() != "failure requested" {
			t.Fatalf("Terminate reason %v, want the handler's error", err)
		}
		// An event without a HandleIn clause is an error too.
		jr = joinOK(t, c, m, "room:f", "")
		c.Push("room:f", "unknown", `{}`)
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:f", "you_left", `{"message":"bye!"}`))
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:f", "phx_error", `{"reason":"channel_crash"}`))
		heartbeat(t, c)
	})
}

func TestStaleJoinRefDropped(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:st", "")
		// A message with another join_ref is dropped without a reply. The
		// channel handles pushes in order, so had it been delivered, its
		// reply would come before the next echo's.
		c.Send("stale", c.NextRef(), "room:st", "echo", `{"stale":true}`)
		c.Send("stale", c.NextRef(), "room:st", "phx_leave", `{}`)
		echo(t, c, m, "room:st", `{"fresh":true}`)
		if got := s.rec.events("room:st"); len(got) != 1 {
			t.Fatalf("channel handled %v, want one echo", got)
		}
	})
}

func TestNullJoinRefAccepted(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:n", "")
		ref := c.NextRef()
		c.Send(nil, ref, "room:n", "echo", `{"x":1}`)
		// The reply carries the channel's join_ref.
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:n", "ok", `{"x":1}`))
		ref = c.NextRef()
		c.Send(nil, ref, "room:n", "phx_leave", `{}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:n", "ok", `{}`))
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:n", "phx_close", `{}`))
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:n", "you_left", `{"message":"bye!"}`))
	})
}

func TestDuplicateJoin(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		oldJR := joinOK(t, c, m, "room:dup", "")
		// Keep the old channel busy, with more work queued behind.
		c.Push("room:dup", "block", `{"gate":"dup"}`)
		waitFor(t, "the block handler to start", func() bool { return len(s.rec.events("room:dup")) == 1 })
		for range 3 {
			c.Push("room:dup", "record", `{}`)
		}
		newJR, ref := c.Join("room:dup", "")
		// The new join's reply, then phx_close for the OLD join_ref.
		c.Expect(wstest.Reply(m.jr(newJR), ref, "room:dup", "ok", `{}`))
		c.Expect(wstest.M(m.jr(oldJR), m.jr(oldJR), "room:dup", "phx_close", `{}`))

		s.rec.release("dup")
		if err := s.rec.waitTerminated(t, "room:dup", 1); err != channel.ErrDuplicateJoin {
			t.Fatalf("old channel's Terminate reason %v, want ErrDuplicateJoin", err)
		}
		if got := s.rec.events("room:dup"); len(got) != 1 {
			t.Fatalf("old channel handled %v after the duplicate join, want only [block]", got)
		}
		// The old channel's pushes (its Terminate's you_left) were
		// dropped: the new channel's echo reply is next.
		echo(t, c, m, "room:dup", `{}`)
	})
}

func TestMaxChannelsDefault(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		for i := range 100 {
			joinOK(t, c, m, "room:"+strconv.Itoa(i), "")
		}
		jr, ref := c.Join("room:101", "")
		if ref != "101" {
			t.Fatalf("ref %s, want 101", ref)
		}
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:101", "error", `{"reason":"too many channels joined"}`))
	})
}

func TestMaxChannelsConfigured(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, &socket.Options{MaxChannels: 1})
		c := s.dial(t, m, "")
		jr1 := joinOK(t, c, m, "room:1", "")
		jr, ref := c.Join("room:2", "")
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:2", "error", `{"reason":"too many channels joined"}`))
		// Once the first channel has left, there is room again.
		ref = c.Leave("room:1")
		c.Expect(wstest.Reply(m.jr(jr1), ref, "room:1", "ok", `{}`))
		c.Expect(wstest.M(m.jr(jr1), m.jr(jr1), "room:1", "phx_close", `{}`))
		c.Expect(wstest.M(m.jr(jr1), wstest.Null, "room:1", "you_left", `{"message":"bye!"}`))
		joinOK(t, c, m, "room:2", "")
	})
}

func TestMaxChannelsUnlimited(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{MaxChannels: -1})
	m := modes[1]
	c := s.dial(t, m, "")
	for i := range 100 + 5 {
		joinOK(t, c, m, "room:"+strconv.Itoa(i), "")
	}
}

func TestInterceptAndFastLane(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		a, b := s.dial(t, m, ""), s.dial(t, m, "")
		jrA := joinOK(t, a, m, "room:i", "")
		jrB := joinOK(t, b, m, "room:i", "")
		ctx := context.Background()

		// An intercepted event goes through each channel's HandleOut and
		// arrives as a push with that channel's join_ref.
		if err := s.Broadcast(ctx, "room:i", "new_msg", map[string]string{"body": "hi"}); err != nil {
			t.Fatal(err)
		}
		a.Expect(wstest.M(m.jr(jrA), wstest.Null, "room:i", "new_msg", `{"body":"hi","transport":"`+m.transport()+`"}`))
		b.Expect(wstest.M(m.jr(jrB), wstest.Null, "room:i", "new_msg", `{"body":"hi","transport":"`+m.transport()+`"}`))

		// Any other event takes the fast lane: [null, null, ...].
		if err := s.Broadcast(ctx, "room:i", "shout", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		a.Expect(wstest.M(wstest.Null, wstest.Null, "room:i", "shout", `{"n":1}`))
		b.Expect(wstest.M(wstest.Null, wstest.Null, "room:i", "shout", `{"n":1}`))

		// From a client: the sender gets its reply, then the push.
		ref := a.Push("room:i", "new_msg", `{"body":"yo"}`)
		a.Expect(wstest.Reply(m.jr(jrA), ref, "room:i", "ok", `{}`))
		a.Expect(wstest.M(m.jr(jrA), wstest.Null, "room:i", "new_msg", `{"body":"yo","transport":"`+m.transport()+`"}`))
		b.Expect(wstest.M(m.jr(jrB), wstest.Null, "room:i", "new_msg", `{"body":"yo","transport":"`+m.transport()+`"}`))
	})
}

func TestBroadcastFromSkipsSender(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		a, b := s.dial(t, m, ""), s.dial(t, m, "")
		joinOK(t, a, m, "room:bf", "")
		joinOK(t, b, m, "room:bf", "")

		a.Push("room:bf", "shout_from", `{"from":"a"}`)
		b.Expect(wstest.M(wstest.Null, wstest.Null, "room:bf", "shout", `{"from":"a"}`))
		// The broadcast is delivered in a's channel goroutine before it
		// handles the next push: had a got it, it would come first.
		echo(t, a, m, "room:bf", `{}`)

		// Broadcast reaches the sender too.
		a.Push("room:bf", "shout", `{"from":"a"}`)
		a.Expect(wstest.M(wstest.Null, wstest.Null, "room:bf", "shout", `{"from":"a"}`))
		b.Expect(wstest.M(wstest.Null, wstest.Null, "room:bf", "shout", `{"from":"a"}`))

		echo(t, b, m, "room:bf", `{}`)
	})
}

func TestLocalBroadcast(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:lb", "")
		if err := s.LocalBroadcast("room:lb", "local", map[string]string{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		c.Expect(wstest.M(wstest.Null, wstest.Null, "room:lb", "local", `{"k":"v"}`))
		// Broadcasts must carry a JSON object.
		if err := s.LocalBroadcast("room:lb", "bad", []int{1}); err == nil {
			t.Fatal("LocalBroadcast of an array: no error")
		}
		if err := s.Broadcast(context.Background(), "room:lb", "bad", "text"); err == nil {
			t.Fatal("Broadcast of a string: no error")
		}
		heartbeat(t, c)
	})
}

func TestDeferredReply(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:d", "")
		ref := c.Push("room:d", "async", `{"gate":"later"}`)
		// HandleIn returned without replying: the channel goes on.
		echo(t, c, m, "room:d", `{"first":true}`)
		s.rec.release("later")
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:d", "ok", `{"gate":"later"}`))
	})
}

func TestSocketSendToHandleInfo(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:info", "")
		sock := s.rec.socket("room:info")
		if !sock.Send("hello") {
			t.Fatal("Send to a joined channel returned false")
		}
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:info", "info", `{"msg":"hello"}`))
		if sock.Topic() != "room:info" || sock.ID() != "" || sock.Transport() != m.transport() {
			t.Fatalf("socket: topic %q id %q transport %q", sock.Topic(), sock.ID(), sock.Transport())
		}

		c.Leave("room:info")
		s.rec.waitTerminated(t, "room:info", 1)
		if sock.Send("late") {
			t.Fatal("Send to a channel that has left returned true")
		}
		if sock.Context().Err() == nil {
			t.Fatal("the context of a channel that has left is not canceled")
		}
	})
}

func TestChannelsTerminatedOnClientClose(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:c1", "")
		joinOK(t, c, m, "room:c2", "")
		c.Close()
		for _, topic := range []string{"room:c1", "room:c2"} {
			if err := s.rec.waitTerminated(t, topic, 1); err != channel.ErrClosed {
				t.Fatalf("%s: Terminate reason %v, want ErrClosed", topic, err)
			}
		}
	})
}

func TestAssignsFromConnect(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, &socket.Options{
			Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
				return map[string]any{"user_id": p.Get("user_id")}, nil
			},
			ID: func(a map[string]any) string { return fmt.Sprint("user:", a["user_id"]) },
		})
		c := s.dial(t, m, "user_id=7")
		jr, ref := c.Join("room:as", `{"after_join":true}`)
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:as", "ok", `{}`))
		c.Expect(wstest.M(wstest.Null, wstest.Null, "room:as", "user_entered", `{"user":null}`))
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:as", "joined", `{"status":"connected","user_id":"7"}`))
		if id := s.rec.socket("room:as").ID(); id != "user:7" {
			t.Fatalf("socket ID %q, want user:7", id)
		}
	})
}

// docs/protocol.md, "V2 binary frames", "Server semantics" item 28: binary pushes, replies and
// broadcasts (V2 only; V1 has no binary frames).
func TestBinary(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	m := modes[1]
	c := s.dial(t, m, "")
	v1 := s.dial(t, modes[0], "")
	jr := joinOK(t, c, m, "room:bin", "")
	joinOK(t, v1, modes[0], "room:bin", "")

	ref := c.NextRef()
	c.SendBytes(wstest.BinaryPush(jr, ref, "room:bin", "echo", []byte{1, 2, 0xff}), true)
	c.Expect(wstest.Msg{JoinRef: jr, Ref: ref, Topic: "room:bin", Event: "phx_reply", Status: "ok", Payload: "\x01\x02\xff", Binary: true})

	// A binary push with a stale join_ref is dropped like a text one.
	c.SendBytes(wstest.BinaryPush("stale", c.NextRef(), "room:bin", "echo", []byte{3}), true)
	echo(t, c, m, "room:bin", `{}`)

	// A binary broadcast reaches V2 clients as a binary frame; a V1
	// client cannot receive it and gets nothing.
	if err := s.Broadcast(context.Background(), "room:bin", "blob", protocol.Binary([]byte{7, 8})); err != nil {
		t.Fatal(err)
	}
	c.Expect(wstest.Msg{JoinRef: wstest.Null, Ref: wstest.Null, Topic: "room:bin", Event: "blob", Payload: "\x07\x08", Binary: true})
	if err := s.Broadcast(context.Background(), "room:bin", "text", map[string]int{}); err != nil {
		t.Fatal(err)
	}
	c.Expect(wstest.M(wstest.Null, wstest.Null, "room:bin", "text", `{}`))
	v1.Expect(wstest.M(wstest.Null, wstest.Null, "room:bin", "text", `{}`))
}

// A topic that is not a JSON string matches no channel: Phoenix answers
// "unmatched topic" and echoes the topic as it was sent, and the
// connection goes on.
func TestNonStringTopic(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		in := `["5","1",123,"phx_join",{}]`
		want := `[null,"1",123,"phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]`
		if m.vsn == "1.0.0" {
			in = `{"topic":123,"event":"phx_join","payload":{},"ref":"1","join_ref":"5"}`
			want = `{"topic":123,"event":"phx_reply","payload":{"status":"error","response":{"reason":"unmatched topic"}},"ref":"1"}`
		}
		c.SendText(in)
		f, ok := c.Next(wstest.Timeout)
		if !ok || string(f.Data) != want {
			t.Fatalf("got %q, want %q", f.Data, want)
		}
		// A push to it, and a topic "123" that is a string, are told apart.
		joinOK(t, c, m, "room:123", "")
		heartbeat(t, c)
	})
}

// A room large enough that its broadcasts are written by several
// goroutines, under a burst of broadcasts from several goroutines (which
// a connection may get several at a time, in one write): every client
// gets every broadcast once, each broadcaster's in the order sent.
func TestLargeRoomBurst(t *testing.T) {
	t.Parallel()
	runWS(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		const clients, senders, each = 300, 4, 25
		cs := make([]*wstest.Client, clients)
		for i := range cs {
			cs[i] = s.dial(t, m, "")
			joinOK(t, cs[i], m, "room:big", "")
		}
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					if err := s.Broadcast(context.Background(), "room:big", "shout", map[string]int{"g": g, "i": i}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		for k, c := range cs {
			next := make([]int, senders)
			for range senders * each {
				f, ok := c.Next(10 * time.Second)
				if !ok {
					t.Fatalf("client %d: broadcasts missing after %v", k, next)
				}
				msg, err := wstest.Decode(m.v1(), f)
				if err != nil || msg.Event != "shout" {
					t.Fatalf("client %d: %v %v", k, msg, err)
				}
				var p struct{ G, I int }
				if err := json.Unmarshal([]byte(msg.Payload), &p); err != nil {
					t.Fatal(err)
				}
				if p.I != next[p.G] {
					t.Fatalf("client %d: broadcast %d of sender %d, want %d", k, p.I, p.G, next[p.G])
				}
				next[p.G]++
			}
			c.ExpectNone(20 * time.Millisecond)
		}
	})
}
