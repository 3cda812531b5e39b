package socket_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/telemetry"
)

// A connection over its message rate gets error replies for the pushes
// over it, once per push, and goes on; the episode is reported once.
func TestRateLimitRefuses(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		rec := &hookRecorder{}
		s := newServer(t, &socket.Options{Hooks: rec.hooks(), Limits: &socket.LimitOptions{Messages: 2, MessageBurst: 4}})
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:rl", "")
		refs := make([]string, 10)
		for i := range refs {
			refs[i] = c.Push("room:rl", "echo", `{}`)
		}
		ok, refused := 0, 0
		for range refs {
			got := c.Read()
			switch {
			case wstest.Equal(got, wstest.Reply(m.jr(jr), got.Ref, "room:rl", "ok", `{}`)):
				ok++
			case wstest.Equal(got, wstest.Reply(m.jr(jr), got.Ref, "room:rl", "error", `{"reason":"rate limited"}`)):
				refused++
			default:
				t.Fatalf("unexpected frame %v", got)
			}
		}
		if ok < 4 || refused < 5 {
			t.Fatalf("%d ok, %d refused; want the burst (4) through and the rest refused", ok, refused)
		}
		heartbeat(t, c) // The connection goes on.
		if ev := find[telemetry.RateLimitEvent](rec, nil); len(ev) != 1 || ev[0].Limit != "messages" || ev[0].Closed {
			t.Fatalf("RateLimited events %+v, want one for the episode", ev)
		}
		time.Sleep(600 * time.Millisecond) // One token back, at 2 per second.
		echo(t, c, m, "room:rl", `{"again":true}`)
	})
}

// With Close, a connection over its limit is closed with 1008.
func TestRateLimitCloses(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, &socket.Options{Limits: &socket.LimitOptions{Messages: 1, MessageBurst: 2, Close: true}})
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:rlc", "")
		for range 3 { // The third passes the burst.
			c.Push("room:rlc", "record", `{}`)
		}
		expectClosed(c, m, websocket.StatusPolicyViolation)
	})
}

// Joins have a limit of their own.
func TestRateLimitJoins(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, &socket.Options{Limits: &socket.LimitOptions{Joins: 1, JoinBurst: 2}})
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:j1", "")
		joinOK(t, c, m, "room:j2", "")
		jr, ref := c.Join("room:j3", "")
		c.Expect(wstest.Reply(m.jr(jr), ref, "room:j3", "error", `{"reason":"rate limited"}`))
		echo(t, c, m, "room:j1", `{}`) // Pushes are not joins.
	})
}
