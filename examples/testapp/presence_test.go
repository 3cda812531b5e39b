package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// presenceServer serves UserSocket with the presence:* and room:* routes,
// on its own tracker, and stops both when the test ends.
func presenceServer(t *testing.T) string {
	t.Helper()
	base, _ := presenceServerWith(t, nil)
	return base
}

func presenceServerWith(t *testing.T, ws *transport.WebSocketOptions) (string, *socket.Server) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tr := newPresence(ps, logger)
	srv, err := socket.New(&socket.Options{
		PubSub: ps, Logger: logger, Connect: userConnect(false), ID: userID,
		CheckOrigin: transport.OriginPolicy{Disabled: true}, WebSocket: ws,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Channel("presence:*", presenceChannel(tr))
	srv.Channel("room:*", func() channel.Handler { return &RoomChannel{} })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		hs.Close()
		_ = tr.Shutdown(context.Background())
		_ = ps.Close(context.Background())
	})
	return hs.URL + "/socket", srv
}

type presenceMeta struct {
	OnlineAt float64 `json:"online_at"`
	Ref      string  `json:"phx_ref"`
	RefPrev  string  `json:"phx_ref_prev"`
	Status   string  `json:"status"`
}

type presences map[string]struct {
	Metas []presenceMeta `json:"metas"`
}

type diff struct {
	Joins  presences `json:"joins"`
	Leaves presences `json:"leaves"`
}

// read takes the next frame, which must be event on topic (a push with the
// join_ref, or a broadcast without), and decodes its payload into v.
func read(t *testing.T, c *wstest.Client, topic, event string, v any) {
	t.Helper()
	m := c.Read()
	if m.Topic != topic || m.Event != event {
		t.Fatalf("got %v, want %s on %s", m, event, topic)
	}
	if err := json.Unmarshal([]byte(m.Payload), v); err != nil {
		t.Fatalf("%s payload %s: %v", event, m.Payload, err)
	}
}

func TestPresenceChannel(t *testing.T) {
	base := presenceServer(t)
	const topic = "presence:lobby"

	ann := wstest.Dial(t, wstest.URL(base, "user_id=u1", "2.0.0"), "2.0.0", nil)
	jr, ref := ann.Join(topic, `{"name":"ann"}`)
	ann.Expect(wstest.Reply(jr, ref, topic, "ok", `{}`))
	var state presences
	read(t, ann, topic, "presence_state", &state)
	if len(state) != 1 || len(state["ann"].Metas) != 1 || state["ann"].Metas[0].OnlineAt == 0 || state["ann"].Metas[0].Ref == "" {
		t.Fatalf("ann's presence_state: %+v", state)
	}
	annRef := state["ann"].Metas[0].Ref
	var d diff
	read(t, ann, topic, "presence_diff", &d)
	if len(d.Joins) != 1 || d.Joins["ann"].Metas[0].Ref != annRef || len(d.Leaves) != 0 {
		t.Fatalf("ann's own join: %+v", d)
	}

	// No name: the user_id.
	u2 := wstest.Dial(t, wstest.URL(base, "user_id=u2", "1.0.0"), "1.0.0", nil)
	jr, ref = u2.Join(topic, `{}`)
	u2.Expect(wstest.Reply(wstest.Null, ref, topic, "ok", `{}`))
	_ = jr
	state = nil
	read(t, u2, topic, "presence_state", &state)
	if len(state) != 2 || state["ann"].Metas[0].Ref != annRef || len(state["u2"].Metas) != 1 {
		t.Fatalf("u2's presence_state: %+v", state)
	}
	u2Meta := state["u2"].Metas[0]
	d = diff{}
	read(t, u2, topic, "presence_diff", &d) // Its own join, after the state.
	if d.Joins["u2"].Metas[0] != u2Meta {
		t.Fatalf("u2 saw %+v, want its own join", d)
	}
	d = diff{}
	read(t, ann, topic, "presence_diff", &d)
	if d.Joins["u2"].Metas[0].Ref != u2Meta.Ref {
		t.Fatalf("ann saw %+v, want u2's join", d)
	}

	// Neither: "anonymous".
	anon := wstest.Dial(t, wstest.URL(base, "", "2.0.0"), "2.0.0", nil)
	jr, ref = anon.Join(topic, `{"name":""}`)
	anon.Expect(wstest.Reply(jr, ref, topic, "ok", `{}`))
	d = diff{}
	read(t, ann, topic, "presence_diff", &d)
	if len(d.Joins["anonymous"].Metas) != 1 {
		t.Fatalf("ann saw %+v, want anonymous's join", d)
	}
	d = diff{}
	read(t, u2, topic, "presence_diff", &d)
	if len(d.Joins["anonymous"].Metas) != 1 {
		t.Fatalf("u2 saw %+v, want anonymous's join", d)
	}

	// update: merged into the meta, online_at kept, one diff.
	ref = u2.Push(topic, "update", `{"status":"away","online_at":1}`)
	// The reply and the diff go out from different goroutines, in no set
	// order, as in Phoenix (the tracker broadcasts the diff).
	for _, m := range []wstest.Msg{u2.Read(), u2.Read()} {
		if m.Event == "presence_diff" {
			continue
		}
		if !wstest.Equal(m, wstest.Reply(wstest.Null, ref, topic, "ok", `{}`)) {
			t.Fatalf("u2 got %v, want its update's reply and the diff", m)
		}
	}
	d = diff{}
	read(t, ann, topic, "presence_diff", &d)
	j, l := d.Joins["u2"].Metas, d.Leaves["u2"].Metas
	if len(j) != 1 || len(l) != 1 || l[0] != u2Meta || j[0].Status != "away" || j[0].OnlineAt != u2Meta.OnlineAt ||
		j[0].RefPrev != u2Meta.Ref || j[0].Ref == u2Meta.Ref {
		t.Fatalf("update diff %+v, want u2 %+v leaving and coming back away", d, u2Meta)
	}

	ref = u2.Push(topic, "update", `[1]`)
	u2.Expect(wstest.Reply(wstest.Null, ref, topic, "error", `{"reason":"payload must be an object"}`))

	// u2's connection drops: everyone sees it leave.
	u2.CloseNow()
	d = diff{}
	read(t, ann, topic, "presence_diff", &d)
	if len(d.Leaves["u2"].Metas) != 1 || d.Leaves["u2"].Metas[0].Ref != j[0].Ref || len(d.Joins) != 0 {
		t.Fatalf("after u2 dropped: %+v", d)
	}
}

func TestPresenceKey(t *testing.T) {
	for _, tc := range []struct {
		name       string
		candidates []any
		want       string
	}{
		{"name", []any{"ann", "u1"}, "ann"},
		{"empty name", []any{"", "u1"}, "u1"},
		{"number", []any{42.0, "u1"}, "42"},
		{"nothing", []any{nil, nil}, "anonymous"},
		{"not a key", []any{true, map[string]any{}}, "anonymous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := presenceKey(tc.candidates...); got != tc.want {
				t.Fatalf("presenceKey(%v) = %q, want %q", tc.candidates, got, tc.want)
			}
		})
	}
}

// A client that stops reading, its writer blocked on full kernel buffers
// with less than QueueBytes queued, is cut within the stall timeout, and
// the others see its presence leave (what the stalled-writer probe
// measures: 3.5 MB of broadcasts, then a small one).
func TestStalledClientLeaves(t *testing.T) {
	base, srv := presenceServerWith(t, &transport.WebSocketOptions{StallTimeout: 500 * time.Millisecond})
	const topic = "presence:stall"
	watcher := wstest.Dial(t, wstest.URL(base, "", "2.0.0"), "2.0.0", nil)
	jr, ref := watcher.Join(topic, `{"name":"watcher"}`)
	watcher.Expect(wstest.Reply(jr, ref, topic, "ok", `{}`))
	read(t, watcher, topic, "presence_state", &presences{})
	read(t, watcher, topic, "presence_diff", &diff{})

	stalled := wstest.Dial(t, wstest.URL(base, "", "2.0.0"), "2.0.0", &wstest.Options{NoRead: true, ReadBuffer: 4096})
	stalled.Join(topic, `{"name":"stalled"}`)
	stalled.Join("room:stall", "")
	var d diff
	read(t, watcher, topic, "presence_diff", &d)
	if len(d.Joins["stalled"].Metas) != 1 {
		t.Fatalf("watcher saw %+v, want the stalled client's join", d)
	}
	big := map[string]string{"d": strings.Repeat("x", 700_000)}
	for range 5 {
		if err := srv.Broadcast(context.Background(), "room:stall", "big", big); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Broadcast(context.Background(), "room:stall", "small", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d = diff{}
	read(t, watcher, topic, "presence_diff", &d)
	if len(d.Leaves["stalled"].Metas) != 1 {
		t.Fatalf("watcher saw %+v, want the stalled client's leave", d)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the leave came %v after the broadcasts", took)
	}
}
