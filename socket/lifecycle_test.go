package socket_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// Connection lifecycle: disconnect, shutdown, close codes
// (docs/protocol.md, "Socket id and disconnect", "Close codes").

func idOptions() *socket.Options {
	return &socket.Options{
		Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			return map[string]any{"user_id": p.Get("user_id")}, nil
		},
		ID: func(a map[string]any) string {
			if id, _ := a["user_id"].(string); id != "" {
				return "user_socket:" + id
			}
			return ""
		},
	}
}

func TestDisconnect(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, idOptions())
		a := s.dial(t, m, "user_id=7")
		b := s.dial(t, m, "user_id=8")
		anon := s.dial(t, m, "")
		joinOK(t, a, m, "room:a1", "")
		joinOK(t, a, m, "room:a2", "")
		joinOK(t, b, m, "room:b1", "")
		if err := s.Disconnect(context.Background(), "user_socket:7"); err != nil {
			t.Fatal(err)
		}
		// 1001, so that phoenix.js reconnects.
		expectClosed(a, m, websocket.StatusGoingAway)
		for _, topic := range []string{"room:a1", "room:a2"} {
			if err := s.rec.waitTerminated(t, topic, 1); err != channel.ErrDisconnected {
				t.Fatalf("%s: Terminate reason %v, want ErrDisconnected", topic, err)
			}
		}
		// Other sockets are unaffected.
		echo(t, b, m, "room:b1", `{}`)
		heartbeat(t, anon)
		if n := len(s.rec.terminations("room:b1")); n != 0 {
			t.Fatalf("another socket's channel terminated")
		}
		// Other events on the id topic are ignored.
		if err := s.Broadcast(context.Background(), "user_socket:8", "other", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		echo(t, b, m, "room:b1", `{}`)
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		a, b := s.dial(t, m, ""), s.dial(t, m, "")
		joinOK(t, a, m, "room:sa", "")
		joinOK(t, b, m, "room:sb", "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		// Shutdown returned after the connections and their channels
		// ended: no waiting needed.
		for _, topic := range []string{"room:sa", "room:sb"} {
			if got := s.rec.terminations(topic); len(got) != 1 || got[0] != channel.ErrShutdown {
				t.Fatalf("%s: Terminate reasons at Shutdown's return %v, want [ErrShutdown]", topic, got)
			}
		}
		// 1012 (service restart), so that phoenix.js reconnects.
		expectClosed(a, m, websocket.StatusServiceRestart)
		expectClosed(b, m, websocket.StatusServiceRestart)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
}

func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:busy", "")
		c.Push("room:busy", "block", `{"gate":"busy"}`)
		waitFor(t, "the block handler to start", func() bool { return len(s.rec.events("room:busy")) == 1 })

		// The channel cannot end while its handler is blocked: Shutdown
		// gives up when ctx is done.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want a wrapped DeadlineExceeded", err)
		}
		expectClosed(c, m, websocket.StatusServiceRestart)

		s.rec.release("busy")
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		if err := s.Shutdown(ctx2); err != nil {
			t.Fatalf("Shutdown after the handler returned: %v", err)
		}
		if got := s.rec.terminations("room:busy"); len(got) != 1 || got[0] != channel.ErrShutdown {
			t.Fatalf("Terminate reasons %v, want [ErrShutdown]", got)
		}
	})
}

func TestDecodeErrorCloses(t *testing.T) {
	t.Parallel()
	runWS(t, func(t *testing.T, m mode) {
		bad := []struct {
			name   string
			data   string
			binary bool
		}{
			{"not JSON", "not json", false},
			{"truncated", `{"topic":"phoenix"`, false},
			{"V1 missing ref", `{"topic":"t","event":"e","payload":{}}`, false},
			{"short array", `["1","1","t"]`, false},
		}
		if m.v1() {
			bad = append(bad, struct {
				name   string
				data   string
				binary bool
			}{"array to V1", `[null,"1","phoenix","heartbeat",{}]`, false})
		} else {
			bad = append(bad, struct {
				name   string
				data   string
				binary bool
			}{"object to V2", `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}`, false},
				struct {
					name   string
					data   string
					binary bool
				}{"binary kind 2", "\x02\x01\x01te", true},
				struct {
					name   string
					data   string
					binary bool
				}{"truncated binary", "\x00\x05\x05\x05\x05ab", true})
		}
		s := newServer(t, nil)
		other := s.dial(t, m, "")
		joinOK(t, other, m, "room:other", "")
		for i, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				c := s.dial(t, m, "")
				topic := "room:dec" + string(rune('a'+i))
				joinOK(t, c, m, topic, "")
				c.SendBytes([]byte(tt.data), tt.binary)
				c.ExpectClose(websocket.StatusInternalError)
				if err := s.rec.waitTerminated(t, topic, 1); err != channel.ErrClosed {
					t.Fatalf("Terminate reason %v, want ErrClosed", err)
				}
				// Other connections are unaffected.
				echo(t, other, m, "room:other", `{}`)
			})
		}
	})
}

func TestInvalidUTF8Closes(t *testing.T) {
	t.Parallel()
	runWS(t, func(t *testing.T, m mode) {
		s := newServer(t, nil)
		c := s.dial(t, m, "")
		heartbeat(t, c)
		c.SendBytes([]byte("[null,\"1\",\"phoenix\",\"heartbeat\",{\"x\":\"\xff\xfe\"}]"), false)
		c.ExpectClose(websocket.StatusInvalidFramePayloadData)
	})
}

func TestMaxFrameSize(t *testing.T) {
	t.Parallel()
	runWS(t, func(t *testing.T, m mode) {
		const limit = 1024
		s := newServer(t, &socket.Options{WebSocket: &transport.WebSocketOptions{MaxFrameSize: limit}})
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:big", "")
		// Up to the limit is fine.
		pad := func(frameLen int) string {
			f := wstest.Encode(m.v1(), nil, "1", "phoenix", "heartbeat", `{"p":""}`)
			return `{"p":"` + strings.Repeat("x", frameLen-len(f)) + `"}`
		}
		ref := c.NextRef()
		c.Send(nil, ref, "phoenix", "heartbeat", pad(limit))
		c.Expect(wstest.Reply(wstest.Null, ref, "phoenix", "ok", `{}`))

		c.Send(nil, c.NextRef(), "phoenix", "heartbeat", pad(2*limit))
		c.ExpectClose(websocket.StatusMessageTooBig)
		if err := s.rec.waitTerminated(t, "room:big", 1); err != channel.ErrClosed {
			t.Fatalf("Terminate reason %v, want ErrClosed", err)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	runWS(t, func(t *testing.T, m mode) {
		const idle = 100 * time.Millisecond
		s := newServer(t, &socket.Options{WebSocket: &transport.WebSocketOptions{IdleTimeout: idle}})
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:idle", "")
		heartbeat(t, c)
		start := time.Now()
		err := c.Wait(5 * time.Second)
		elapsed := time.Since(start)
		if err == nil {
			t.Fatal("an idle connection was not closed within 5 s")
		}
		// Cowboy closes an idle connection with 1000.
		if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
			t.Fatalf("close status %v, want 1000 (%v)", code, err)
		}
		if elapsed > 2*time.Second {
			t.Fatalf("closed %v after the last frame, timeout %v", elapsed, idle)
		}
		if err := s.rec.waitTerminated(t, "room:idle", 1); err != channel.ErrClosed {
			t.Fatalf("Terminate reason %v, want ErrClosed", err)
		}
	})
}

func TestIdleTimeoutResetByTraffic(t *testing.T) {
	t.Parallel()
	m := modes[1]
	const idle = 300 * time.Millisecond
	s := newServer(t, &socket.Options{WebSocket: &transport.WebSocketOptions{IdleTimeout: idle}})
	c := s.dial(t, m, "")
	// Traffic every 50 ms for 4 idle periods keeps the connection open.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(4 * idle); time.Now().Before(end); {
		<-tick.C
		heartbeat(t, c)
	}
	// WebSocket pings count too.
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Ping needs a reader for the pong: the client's reader runs.
		err := c.Conn().Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	heartbeat(t, c)
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	m := modes[1]
	s := newServer(t, &socket.Options{WebSocket: &transport.WebSocketOptions{QueueBytes: 64 << 10}})
	ps := s.PubSub()
	fast := s.dial(t, m, "")
	joinOK(t, fast, m, "room:flood", "")
	slow := wstest.Dial(t, s.url(m, ""), m.vsn, &wstest.Options{NoRead: true, ReadBuffer: 4096})
	slow.Join("room:flood", "")
	waitFor(t, "the slow client's join", func() bool { return ps.Subscribers("room:flood") == 2 })

	payload := map[string]string{"d": strings.Repeat("x", 64<<10)}
	const maxBroadcasts = 1000 // 64 MB: far more than any socket buffers.
	start := time.Now()
	i := 0
	for ; len(s.rec.terminations("room:flood")) == 0; i++ {
		if i == maxBroadcasts {
			t.Fatalf("the slow client was not disconnected after %d broadcasts", i)
		}
		// The broadcast returns at once: it never waits for the slow client.
		done := make(chan error, 1)
		go func() { done <- s.Broadcast(context.Background(), "room:flood", "fill", payload) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("broadcast %d blocked for 5 s", i)
		}
		// Pace on the fast client, which gets every broadcast.
		if got := fast.Read(); got.Event != "fill" || len(got.Payload) != len(payload["d"])+8 {
			t.Fatalf("fast client got %.80s, want fill", got)
		}
	}
	t.Logf("slow client disconnected after %v and %d broadcasts", time.Since(start), i)
	if got := s.rec.terminations("room:flood"); len(got) != 1 || got[0] != channel.ErrClosed {
		t.Fatalf("Terminate reasons %v, want [ErrClosed]", got)
	}
	waitFor(t, "the slow client's unsubscription", func() bool { return ps.Subscribers("room:flood") == 1 })
	echo(t, fast, m, "room:flood", `{}`)
}

// A client that stops reading with its writer blocked (less than
// QueueBytes queued behind one large frame) does not hold Shutdown beyond
// the stall timeout; its channels terminate.
func TestShutdownNotHeldByStalledClient(t *testing.T) {
	t.Parallel()
	m := modes[1]
	s := newServer(t, &socket.Options{WebSocket: &transport.WebSocketOptions{StallTimeout: 300 * time.Millisecond}})
	healthy := s.dial(t, m, "")
	joinOK(t, healthy, m, "room:ok", "")
	stalled := wstest.Dial(t, s.url(m, ""), m.vsn, &wstest.Options{NoRead: true, ReadBuffer: 4096})
	stalled.Join("room:stall", "")
	waitFor(t, "the stalled client's join", func() bool { return s.PubSub().Subscribers("room:stall") == 1 })
	big := map[string]string{"d": strings.Repeat("x", 16<<20)}
	if err := s.Broadcast(context.Background(), "room:stall", "big", big); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v with a stalled client", d)
	}
	if got := s.rec.terminations("room:stall"); len(got) != 1 {
		t.Fatalf("the stalled client's channel: Terminate reasons %v", got)
	}
	expectClosed(healthy, m, websocket.StatusServiceRestart)
}

// Shutdown drains: the closes are spread at BatchSize per BatchInterval,
// every channel's Terminate runs, and nothing is left running.
func TestShutdownDrainsInBatches(t *testing.T) {
	t.Parallel()
	rec := &hookRecorder{}
	var mu sync.Mutex
	var closedAt []time.Time
	hooks := rec.hooks()
	hooks.Disconnect = func(telemetry.DisconnectEvent) {
		mu.Lock()
		closedAt = append(closedAt, time.Now())
		mu.Unlock()
	}
	s := newServer(t, &socket.Options{
		Hooks: hooks,
		Drain: &socket.DrainOptions{BatchSize: 10, BatchInterval: 100 * time.Millisecond},
	})
	m := modes[1]
	const n = 40
	clients := make([]*wstest.Client, n)
	for i := range clients {
		clients[i] = s.dial(t, m, "")
		joinOK(t, clients[i], m, "room:drain", "")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if len(closedAt) != n {
		t.Fatalf("%d connections ended, want %d", len(closedAt), n)
	}
	first, last := closedAt[0].Sub(start), closedAt[n-1].Sub(start)
	// 40 closes at 10 per 100 ms: spread over about 390 ms.
	if first > 100*time.Millisecond || last < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("closes from %v to %v, Shutdown took %v; want them spread over about 400 ms", first, last, took)
	}
	if got := s.rec.terminations("room:drain"); len(got) != n {
		t.Fatalf("%d Terminates, want %d", len(got), n)
	}
	for _, c := range clients {
		expectClosed(c, m, websocket.StatusServiceRestart)
	}
}

// A Disconnect made as soon as a client is connected reaches it: the
// socket id is subscribed before the upgrade completes.
func TestDisconnectRightAfterConnect(t *testing.T) {
	t.Parallel()
	m := modes[1]
	s := newServer(t, idOptions())
	for i := range 20 {
		id := "u" + string(rune('a'+i))
		c := s.dial(t, m, "user_id="+id)
		if err := s.Disconnect(context.Background(), "user_socket:"+id); err != nil {
			t.Fatal(err)
		}
		expectClosed(c, m, websocket.StatusGoingAway)
	}
}
