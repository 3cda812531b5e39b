package socket_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// hookRecorder keeps every telemetry event, in order.
type hookRecorder struct {
	mu     sync.Mutex
	events []any
}

func (h *hookRecorder) add(e any) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

func (h *hookRecorder) hooks() *telemetry.Hooks {
	return &telemetry.Hooks{
		Connect:         func(e telemetry.ConnectEvent) { h.add(e) },
		Disconnect:      func(e telemetry.DisconnectEvent) { h.add(e) },
		Join:            func(e telemetry.JoinEvent) { h.add(e) },
		Leave:           func(e telemetry.LeaveEvent) { h.add(e) },
		HandleIn:        func(e telemetry.HandleInEvent) { h.add(e) },
		Broadcast:       func(e telemetry.BroadcastEvent) { h.add(e) },
		Cut:             func(e telemetry.CutEvent) { h.add(e) },
		DecodeError:     func(e telemetry.DecodeErrorEvent) { h.add(e) },
		ChannelCrash:    func(e telemetry.ChannelCrashEvent) { h.add(e) },
		LongPollSession: func(e telemetry.LongPollSessionEvent) { h.add(e) },
		RateLimited:     func(e telemetry.RateLimitEvent) { h.add(e) },
		FramesIn:        func(e telemetry.FramesEvent) { h.add(e) },
		FramesOut:       func(e telemetry.FramesEvent) { h.add(e) },
	}
}

// find returns the events of type T that match.
func find[T any](h *hookRecorder, match func(T) bool) []T {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []T
	for _, e := range h.events {
		if t, ok := e.(T); ok && (match == nil || match(t)) {
			out = append(out, t)
		}
	}
	return out
}

// Every hook is called for its event, in every mode, with what the event
// is about.
func TestHooks(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		rec := &hookRecorder{}
		s := newServer(t, &socket.Options{Hooks: rec.hooks(), ID: func(map[string]any) string { return "user:7" }})
		c := s.dial(t, m, "")
		jr := joinOK(t, c, m, "room:h", "")
		echo(t, c, m, "room:h", `{"n":1}`)
		c.Push("room:h", "shout", `{"s":1}`)
		c.Expect(wstest.M(wstest.Null, wstest.Null, "room:h", "shout", `{"s":1}`))
		c.Push("room:h", "boom", `{}`)
		c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:h", "you_left", `{"message":"bye!"}`))
		c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:h", "phx_error", `{"reason":"channel_crash"}`))
		_, ref := c.Join("nomatch:1", "")
		c.Expect(wstest.Reply(wstest.Null, ref, "nomatch:1", "error", `{"reason":"unmatched topic"}`))
		c.Close()
		waitFor(t, "the disconnect event", func() bool { return len(find[telemetry.DisconnectEvent](rec, nil)) == 1 })

		transportName := "websocket"
		if m.lp {
			transportName = "longpoll"
		}
		if ev := find(rec, func(e telemetry.ConnectEvent) bool { return e.Accepted() }); len(ev) != 1 ||
			ev[0].Transport != transportName || ev[0].Vsn != m.vsn || ev[0].SocketID != "user:7" {
			t.Errorf("Connect events %+v", ev)
		}
		if ev := find(rec, func(e telemetry.JoinEvent) bool { return e.Topic == "room:h" }); len(ev) != 1 || ev[0].Status != telemetry.JoinOK || ev[0].SocketID != "user:7" {
			t.Errorf("Join events for room:h: %+v", ev)
		}
		if ev := find(rec, func(e telemetry.JoinEvent) bool { return e.Topic == "nomatch:1" }); len(ev) != 1 || ev[0].Status != telemetry.JoinUnmatched {
			t.Errorf("Join events for nomatch:1: %+v", ev)
		}
		if ev := find(rec, func(e telemetry.HandleInEvent) bool { return e.Event == "echo" }); len(ev) != 1 || ev[0].Crashed || ev[0].Topic != "room:h" {
			t.Errorf("HandleIn events for echo: %+v", ev)
		}
		if ev := find(rec, func(e telemetry.HandleInEvent) bool { return e.Event == "boom" }); len(ev) != 1 || !ev[0].Crashed {
			t.Errorf("HandleIn events for boom: %+v", ev)
		}
		if ev := find[telemetry.ChannelCrashEvent](rec, nil); len(ev) != 1 || ev[0].Callback != "HandleIn" || ev[0].Event != "boom" || ev[0].Topic != "room:h" {
			t.Errorf("ChannelCrash events %+v", ev)
		}
		if ev := find(rec, func(e telemetry.LeaveEvent) bool { return e.Topic == "room:h" }); len(ev) != 1 || !ev[0].Crashed {
			t.Errorf("Leave events %+v", ev)
		}
		if ev := find(rec, func(e telemetry.BroadcastEvent) bool { return e.Event == "shout" }); len(ev) != 1 || ev[0].Topic != "room:h" {
			t.Errorf("Broadcast events %+v", ev)
		}
		if ev := find[telemetry.DisconnectEvent](rec, nil); ev[0].SocketID != "user:7" || ev[0].Transport != transportName {
			t.Errorf("Disconnect event %+v", ev)
		}
		frames := find[telemetry.FramesEvent](rec, nil)
		for _, e := range frames {
			if e.Transport != transportName || e.Frames < 1 || e.Bytes < 1 {
				t.Errorf("frames event %+v", e)
			}
		}
		if len(frames) < 5 {
			t.Errorf("%d frames events, want the frames in and out", len(frames))
		}
		if m.lp {
			if ev := find[telemetry.LongPollSessionEvent](rec, nil); len(ev) != 2 || !ev[0].Started || ev[1].Started {
				t.Errorf("LongPollSession events %+v", ev)
			}
		}
	})
}

// A frame that does not decode and a client cut for not reading reach
// their hooks.
func TestHooksDecodeErrorAndCut(t *testing.T) {
	t.Parallel()
	rec := &hookRecorder{}
	s := newServer(t, &socket.Options{Hooks: rec.hooks(), WebSocket: &transport.WebSocketOptions{QueueBytes: 16 << 10}})
	m := modes[1]
	c := s.dial(t, m, "")
	c.SendText("not a frame")
	c.ExpectClose(1011)
	waitFor(t, "the decode error", func() bool { return len(find[telemetry.DecodeErrorEvent](rec, nil)) == 1 })

	slow := wstest.Dial(t, s.url(m, ""), m.vsn, &wstest.Options{NoRead: true, ReadBuffer: 4096})
	slow.Join("room:slow", "")
	waitFor(t, "the slow client's join", func() bool { return s.PubSub().Subscribers("room:slow") == 1 })
	big := map[string]string{"d": strings.Repeat("x", 8<<10)}
	for i := 0; i < 1000 && len(find[telemetry.CutEvent](rec, nil)) == 0; i++ {
		_ = s.Broadcast(context.Background(), "room:slow", "big", big)
	}
	waitFor(t, "the cut", func() bool { return len(find[telemetry.CutEvent](rec, nil)) == 1 })
	if ev := find[telemetry.CutEvent](rec, nil); ev[0].Reason != transport.CloseSlowConsumer {
		t.Fatalf("Cut event %+v", ev[0])
	}
}

// getStatus is the status of a GET of url.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lockedBuffer is a log sink for a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The log lines an operator reads: a connection with its params filtered,
// a join, a handled push at debug, a refused join, a crash naming the
// callback, the event and the socket id, a refused connection and a
// long-poll request to a server without long-poll, each saying what to do.
func TestLogLines(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newServer(t, &socket.Options{
		Logger: logger,
		ID:     func(map[string]any) string { return "user:9" },
		Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			if p.Get("reject") != "" {
				return nil, socket.ErrRefused
			}
			return nil, nil
		},
	})
	m := modes[1]
	c := s.dial(t, m, "token=s3cr3t&user[password]=hunter2&name=ann")
	jr := joinOK(t, c, m, "room:log", `{"auth_token":"abc","n":1}`)
	echo(t, c, m, "room:log", `{}`)
	jr2, ref := c.Join("room:refuse", `{"reject":true}`)
	c.Expect(wstest.Reply(m.jr(jr2), ref, "room:refuse", "error", `{"reason":"rejected"}`))
	c.Push("room:log", "boom", `{}`)
	c.Expect(wstest.M(m.jr(jr), wstest.Null, "room:log", "you_left", `{"message":"bye!"}`))
	c.Expect(wstest.M(m.jr(jr), m.jr(jr), "room:log", "phx_error", `{"reason":"channel_crash"}`))
	// Connect runs for a plain GET too, as in Phoenix: refused, 403.
	if st := getStatus(t, s.ts.URL+"/socket/websocket?vsn=2.0.0&reject=1"); st != 403 {
		t.Fatalf("refused connection: %d", st)
	}
	wsOnly, err := socket.New(&socket.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer wsOnly.Shutdown(context.Background())
	ts := httptest.NewServer(wsOnly)
	defer ts.Close()
	if st := getStatus(t, ts.URL+"/socket/longpoll?vsn=2.0.0"); st != 404 {
		t.Fatalf("long-poll on a server without it: %d", st)
	}

	out := logs.String()
	if testing.Verbose() {
		t.Log(out)
	}
	for _, want := range []string{
		"connected in", "transport=websocket", "vsn=2.0.0", "[FILTERED]", "name:ann",
		"joined room:log in", "handled echo in", "refused join of room:refuse",
		"channel crashed", "callback=HandleIn", "event=boom", "socket_id=user:9",
		"refused connection: Connect returned", "long-poll transport is off",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"s3cr3t", "hunter2", "abc"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs show the secret %q:\n%s", secret, out)
		}
	}
}
