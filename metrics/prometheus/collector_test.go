package prometheus_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

// newRegistry returns a pedantic registry (it checks that what is
// collected matches what is described) with col registered.
func newRegistry(t testing.TB, col *pyreprom.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}
	return reg
}

// A WebSocket client's life, from a refused connection to a decode
// error, as the series count it.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	reg := newRegistry(t, col)
	s := newServer(t, col, &socket.Options{MaxChannels: 2})

	if got := s.dialStatus(t, ""); got != http.StatusForbidden {
		t.Fatalf("dial without user: %d, want 403", got)
	}

	c := s.dial(t, "ann")
	joinRefs := map[string]string{}
	for _, j := range []struct{ topic, status string }{
		{"room:refused", "error"},
		{"nomatch:1", "error"},
		{"room:crash", "error"},
		{"room:a", "ok"},
		{"room:b", "ok"},
		{"room:c", "error"}, // MaxChannels.
	} {
		got, jr := c.join(j.topic)
		if got != j.status {
			t.Fatalf("join %s: %s, want %s", j.topic, got, j.status)
		}
		joinRefs[j.topic] = jr
	}
	jrA, jrB := joinRefs["room:a"], joinRefs["room:b"]
	waitValue(t, reg, 2, "pyre_channels", "transport=websocket")

	if got := c.reply("room:a", c.push(jrA, "room:a", "echo", `{"n":1}`)); got != "ok" {
		t.Fatalf("echo: %s", got)
	}
	ref := c.push(jrA, "room:a", "shout", `{"s":1}`)
	for seen := 0; seen != 3; {
		switch f := c.next(); {
		case f.event == "shout":
			seen |= 1
		case f.event == "phx_reply" && f.ref == ref:
			seen |= 2
		}
	}
	if got := c.reply("room:b", c.push(jrB, "room:b", "phx_leave", `{}`)); got != "ok" {
		t.Fatalf("leave: %s", got)
	}
	waitValue(t, reg, 1, "pyre_channels", "transport=websocket")
	c.push(jrA, "room:a", "boom", `{}`)
	c.expect("room:a", "phx_error")
	waitValue(t, reg, 0, "pyre_channels", "transport=websocket")
	if err := c.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}

	d := s.dial(t, "bob")
	d.send("not a phoenix frame")
	if got := d.waitClosed(); got != websocket.StatusInternalError {
		t.Fatalf("close status after a decode error: %v, want 1011", got)
	}
	waitValue(t, reg, 0, "pyre_connections", "transport=websocket")

	// Every hook of both connections has run: a connection's Disconnect
	// comes after its channels have ended.
	for _, w := range []struct {
		want   float64
		name   string
		labels []string
	}{
		{2, "pyre_connects_total", []string{"transport=websocket", "outcome=accepted"}},
		{1, "pyre_connects_total", []string{"transport=websocket", "outcome=refused"}},
		{0, "pyre_connects_total", []string{"transport=websocket", "outcome=unavailable"}},
		{2, "pyre_connect_duration_seconds", []string{"transport=websocket"}},
		{1, "pyre_disconnects_total", []string{"transport=websocket", "reason=" + transport.CloseNormal.Reason}},
		{1, "pyre_disconnects_total", []string{"transport=websocket", "reason=" + transport.CloseDecodeError.Reason}},
		{1, "pyre_decode_errors_total", []string{"transport=websocket"}},
		{2, "pyre_join_duration_seconds", []string{"status=ok"}},
		{1, "pyre_join_duration_seconds", []string{"status=error"}},
		{1, "pyre_join_duration_seconds", []string{"status=crashed"}},
		{3, "pyre_handle_in_duration_seconds", nil},
		{1, "pyre_broadcasts_total", []string{"local=false"}},
		{0, "pyre_broadcasts_total", []string{"local=true"}},
		{float64(c.sentFrames + d.sentFrames), "pyre_messages_in_total", []string{"transport=websocket"}},
		{float64(c.sentBytes + d.sentBytes), "pyre_bytes_in_total", []string{"transport=websocket"}},
		{0, "pyre_cuts_total", []string{"transport=websocket", "reason=" + transport.CloseSlowConsumer.Reason}},
		{0, "pyre_longpoll_sessions", nil},
	} {
		if got := value(t, reg, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	// The frames written include some the clients did not read (the
	// phx_close of the leave, the close frames).
	if got, min := value(t, reg, "pyre_messages_out_total", "transport=websocket"), float64(c.readFrames+d.readFrames); got < min {
		t.Errorf("pyre_messages_out_total = %v, want at least %v", got, min)
	}
	if got, min := value(t, reg, "pyre_bytes_out_total", "transport=websocket"), float64(c.readBytes+d.readBytes); got < min {
		t.Errorf("pyre_bytes_out_total = %v, want at least %v", got, min)
	}

	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP pyre_joins_total Joins answered, by status (ok, error, crashed, unmatched, too_many).
# TYPE pyre_joins_total counter
pyre_joins_total{status="crashed"} 1
pyre_joins_total{status="error"} 1
pyre_joins_total{status="ok"} 2
pyre_joins_total{status="too_many"} 1
pyre_joins_total{status="unmatched"} 1
# HELP pyre_channel_crashes_total Channel callbacks that panicked or failed, by callback (Join, HandleIn, HandleOut, HandleInfo, Terminate).
# TYPE pyre_channel_crashes_total counter
pyre_channel_crashes_total{callback="HandleIn"} 1
pyre_channel_crashes_total{callback="HandleInfo"} 0
pyre_channel_crashes_total{callback="HandleOut"} 0
pyre_channel_crashes_total{callback="Join"} 1
pyre_channel_crashes_total{callback="Terminate"} 0
`), "pyre_joins_total", "pyre_channel_crashes_total")
	if err != nil {
		t.Error(err)
	}

	// After Shutdown, a new connection is unavailable, not refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.dialStatus(t, "user=carol"); got != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: %d, want 503", got)
	}
	if got := value(t, reg, "pyre_connects_total", "transport=websocket", "outcome=unavailable"); got != 1 {
		t.Errorf("unavailable connects: %v, want 1", got)
	}
}

// A long-poll session opens, joins, polls, and is cut as a slow consumer
// when a broadcast passes its QueueBytes.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	reg := newRegistry(t, col)
	s := newServer(t, col, &socket.Options{LongPoll: &transport.LongPollOptions{QueueBytes: 1024}})
	lp := s.http.URL + "/socket/longpoll?vsn=2.0.0"

	var refused struct{ Status int }
	getJSON(t, http.MethodGet, lp, "", &refused)
	if refused.Status != http.StatusForbidden {
		t.Fatalf("session without user: %d, want 403", refused.Status)
	}

	var open struct {
		Status int
		Token  string
	}
	getJSON(t, http.MethodGet, lp+"&user=ann", "", &open)
	if open.Status != http.StatusGone || open.Token == "" {
		t.Fatalf("session: %+v", open)
	}
	if got := value(t, reg, "pyre_longpoll_sessions"); got != 1 {
		t.Fatalf("pyre_longpoll_sessions = %v, want 1", got)
	}
	withToken := lp + "&token=" + open.Token
	join := `["1","1","room:lp","phx_join",{}]`
	var published struct{ Status int }
	getJSON(t, http.MethodPost, withToken, join, &published)
	if published.Status != http.StatusOK {
		t.Fatalf("publish: %d", published.Status)
	}
	var poll struct {
		Status   int
		Messages []string
	}
	getJSON(t, http.MethodGet, withToken, "", &poll)
	if poll.Status != http.StatusOK || len(poll.Messages) != 1 {
		t.Fatalf("poll: %+v", poll)
	}
	waitValue(t, reg, 1, "pyre_channels", "transport=longpoll")
	waitValue(t, reg, 1, "pyre_messages_out_total", "transport=longpoll")
	waitValue(t, reg, float64(len(poll.Messages[0])), "pyre_bytes_out_total", "transport=longpoll")

	// The first frame is buffered whatever its size; the second passes
	// QueueBytes.
	big, _ := json.Marshal(map[string]string{"data": strings.Repeat("x", 2048)})
	for range 2 {
		if err := s.Broadcast(context.Background(), "room:lp", "big", json.RawMessage(big)); err != nil {
			t.Fatal(err)
		}
	}
	waitValue(t, reg, 0, "pyre_longpoll_sessions")
	waitValue(t, reg, 0, "pyre_connections", "transport=longpoll")

	slow := "reason=" + transport.CloseSlowConsumer.Reason
	for _, w := range []struct {
		want   float64
		name   string
		labels []string
	}{
		{1, "pyre_connects_total", []string{"transport=longpoll", "outcome=accepted"}},
		{1, "pyre_connects_total", []string{"transport=longpoll", "outcome=refused"}},
		{1, "pyre_cuts_total", []string{"transport=longpoll", slow}},
		{1, "pyre_disconnects_total", []string{"transport=longpoll", slow}},
		{0, "pyre_channels", []string{"transport=longpoll"}},
		{1, "pyre_messages_in_total", []string{"transport=longpoll"}},
		{float64(len(join)), "pyre_bytes_in_total", []string{"transport=longpoll"}},
		{1, "pyre_joins_total", []string{"status=ok"}},
		{2, "pyre_broadcasts_total", []string{"local=false"}},
		{0, "pyre_connections", []string{"transport=websocket"}},
	} {
		if got := value(t, reg, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
}

// Servers that share a collector add up.
func TestSharedCollector(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	reg := newRegistry(t, col)
	a := newServer(t, col, nil)
	b := newServer(t, col, nil)
	ca, cb := a.dial(t, "ann"), b.dial(t, "bob")
	for _, c := range []*client{ca, cb} {
		if got, _ := c.join("room:x"); got != "ok" {
			t.Fatalf("join: %s", got)
		}
	}
	waitValue(t, reg, 2, "pyre_connections", "transport=websocket")
	waitValue(t, reg, 2, "pyre_channels", "transport=websocket")
	if err := a.LocalBroadcast("room:x", "hi", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, reg, "pyre_broadcasts_total", "local=true"); got != 1 {
		t.Errorf("local broadcasts: %v, want 1", got)
	}
	ca.conn.CloseNow()
	cb.conn.CloseNow()
	waitValue(t, reg, 0, "pyre_connections", "transport=websocket")
	waitValue(t, reg, 0, "pyre_channels", "transport=websocket")
	waitValue(t, reg, 2, "pyre_disconnects_total", "transport=websocket", "reason="+transport.CloseNormal.Reason)
}

// A client over a rate limit counts one episode, however many messages
// are refused; with Close, the connection ends "rate limited".
func TestRateLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		close  bool
		action string
	}{
		{"refuse", false, "refused"},
		{"close", true, "closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			col := pyreprom.New(nil)
			reg := newRegistry(t, col)
			s := newServer(t, col, &socket.Options{Limits: &socket.LimitOptions{Messages: 0.01, MessageBurst: 1, Close: tc.close}})
			c := s.dial(t, "ann")
			_, jr := c.join("room:a")
			if got := c.reply("room:a", c.push(jr, "room:a", "echo", `{}`)); got != "ok" {
				t.Fatalf("first push: %s", got)
			}
			if tc.close {
				c.push(jr, "room:a", "echo", `{}`)
				if got := c.waitClosed(); got != websocket.StatusPolicyViolation {
					t.Fatalf("close status: %v, want 1008", got)
				}
				waitValue(t, reg, 1, "pyre_disconnects_total", "transport=websocket", "reason="+transport.CloseRateLimited.Reason)
			} else {
				for range 3 {
					if got := c.reply("room:a", c.push(jr, "room:a", "echo", `{}`)); got != "error" {
						t.Fatalf("push over the limit: %s", got)
					}
				}
			}
			waitValue(t, reg, 1, "pyre_rate_limit_episodes_total", "transport=websocket", "limit=messages", "action="+tc.action)
		})
	}
}
