package channeltest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channeltest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

func TestJoin(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		srv := newApp(t)
		c := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, opts)

		ch := c.Join("room:lobby", nil)
		if ch.Topic() != "room:lobby" || ch.JoinRef() == "" {
			t.Errorf("topic %q, join_ref %q", ch.Topic(), ch.JoinRef())
		}
		var resp struct{ Welcome string }
		if err := json.Unmarshal(ch.JoinResponse().Bytes(), &resp); err != nil || resp.Welcome != "ann" {
			t.Errorf("join response %s (%v), want welcome ann", ch.JoinResponse().Bytes(), err)
		}

		c.AssertJoinError("room:secret", map[string]bool{"refuse": true}, map[string]string{"reason": "unauthorized"})
		c.AssertJoinError("room:crash", map[string]bool{"crash": true}, map[string]string{"reason": "join crashed"})
		c.AssertJoinError("room:fail", map[string]string{"fail": "no seats"}, json.RawMessage(`{"reason":"no seats"}`))
		c.AssertJoinError("nowhere", nil, map[string]string{"reason": "unmatched topic"})
		got := c.AssertJoinError("room:secret", map[string]bool{"refuse": true}, nil)
		if string(got.Bytes()) != `{"reason":"unauthorized"}` {
			t.Errorf("AssertJoinError returned %s", got.Bytes())
		}

		// The connection and its first channel are still fine.
		ref := ch.Push("ping", map[string]int{"n": 1})
		ch.AssertReply(ref, "ok", map[string]any{"pong": map[string]int{"n": 1}})
	})
}

func TestReply(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		c := channeltest.Connect(t, newApp(t), nil, opts)
		ch := c.Join("room:lobby", nil)

		// Replies come in the order the channel made them, not the order
		// of the assertions: each takes its own.
		later := ch.Push("later", nil)
		now := ch.Push("ping", "x")
		ch.AssertReply(now, "ok", json.RawMessage(`{ "pong" : "x" }`))
		ch.AssertReply(later, "ok", map[string]string{"done": "later"})

		ch.AssertReply(ch.Push("refuse", nil), "error", map[string]string{"reason": "no"})
		ch.AssertReply(ch.Push("echo", map[string]float64{"n": 1}), "ok", json.RawMessage(`{"n":1.0}`))
		if p := ch.AssertReply(ch.Push("echo", []int{1, 2}), "ok", nil); string(p.Bytes()) != "[1,2]" {
			t.Errorf("AssertReply returned %s", p.Bytes())
		}
		ch.AssertReply(ch.Push("echo", map[string]any{}), "ok", map[string]any{})
		ch.RefuteReply(ch.Push("noreply", nil))
	})
}

func TestPush(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		c := channeltest.Connect(t, newApp(t), nil, opts)
		ch := c.Join("room:lobby", map[string]bool{"greet": true})
		ch.AssertPush("greeting", map[string]string{"text": "welcome to room:lobby"})

		ch.Push("push", map[string]any{"a": []any{1, "two", nil}})
		ch.AssertPush("pushed", json.RawMessage(`{"a":[1,"two",null]}`))

		// A matching push is taken out of order; the others stay.
		ch.AssertReply(ch.Push("count", nil), "ok", nil)
		ch.AssertPush("tick", map[string]int{"n": 2})
		n := 0
		ch.AssertPushFunc("tick", func(p protocol.Payload) bool {
			var m struct{ N int }
			_ = json.Unmarshal(p.Bytes(), &m)
			n = m.N
			return m.N > 0
		})
		if n != 1 {
			t.Errorf("AssertPushFunc took tick %d, want the first one left, 1", n)
		}
		p := ch.AssertPush("tick", nil)
		if string(p.Bytes()) != `{"n":3}` {
			t.Errorf("AssertPush returned %s", p.Bytes())
		}
		ch.RefutePush("tick", nil)
		ch.RefutePush("greeting", nil)
	})
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		srv := newApp(t)
		ann := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, opts).Join("room:lobby", nil)
		bob := channeltest.Connect(t, srv, map[string]string{"user": "bob"}, opts).Join("room:lobby", nil)

		// broadcast: every client gets it, and so does the test.
		ann.AssertReply(ann.Push("shout", map[string]string{"text": "hi"}), "ok", nil)
		ann.AssertBroadcast("shout", map[string]string{"text": "hi"})
		ann.AssertPush("shout", map[string]string{"text": "hi"})
		bob.AssertPush("shout", map[string]string{"text": "hi"})

		// broadcast_from: the sender's client does not get it; the test
		// and the others do.
		ann.AssertReply(ann.Push("shout_from", map[string]string{"text": "psst"}), "ok", nil)
		ann.AssertBroadcast("shout", map[string]string{"text": "psst"})
		bob.AssertPush("shout", map[string]string{"text": "psst"})
		ann.RefutePush("shout", nil)
		ann.RefuteBroadcast("shout", nil)

		// A broadcast from the application (Endpoint.broadcast).
		if err := srv.Broadcast(context.Background(), "room:lobby", "news", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		ann.AssertBroadcastFunc("news", nil)
		ann.AssertPush("news", map[string]int{"n": 1})
	})
}

func TestIntercept(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		srv := newApp(t)
		ann := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, opts).Join("room:lobby", nil)
		bob := channeltest.Connect(t, srv, map[string]string{"user": "bob"}, opts).Join("room:lobby", nil)

		// The broadcast as made; each client gets it from HandleOut.
		ann.AssertReply(ann.Push("new_msg", map[string]string{"body": "hi"}), "ok", nil)
		ann.AssertBroadcast("new_msg", map[string]string{"body": "hi"})
		ann.AssertPush("new_msg", map[string]string{"body": "hi", "seen_by": "ann"})
		bob.AssertPush("new_msg", map[string]string{"body": "hi", "seen_by": "bob"})

		// The test broadcasts as the application would (broadcast_from):
		// HandleOut drops it for ann, and the test's subscription of ann's
		// channel does not see it.
		ann.BroadcastFrom("new_msg", map[string]string{"body": "for bob", "to": "bob"})
		bob.AssertPush("new_msg", map[string]string{"body": "for bob", "to": "bob", "seen_by": "bob"})
		bob.AssertBroadcast("new_msg", nil)
		ann.RefutePush("new_msg", nil)
		ann.RefuteBroadcast("new_msg", nil)
	})
}

func TestChannelEnds(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		c := channeltest.Connect(t, newApp(t), nil, opts)

		ch := c.Join("room:a", nil)
		ch.Push("boom", nil)
		ch.AssertErrored()
		ch = c.Join("room:a", nil) // phoenix.js rejoins
		ch.Push("fail", nil)
		ch.AssertErrored()

		ch = c.Join("room:b", nil)
		ch.AssertReply(ch.Push("stop", nil), "ok", map[string]bool{"bye": true})
		ch.AssertClosed()

		ch = c.Join("room:c", nil)
		ch.Leave()

		// A duplicate join closes the first channel. V1 frames carry no
		// join_ref: its phx_close cannot be told from one for the new
		// channel (phoenix.js 1.2 had the same trouble).
		if opts.Serializer == protocol.V1 {
			return
		}
		first := c.Join("room:d", nil)
		second := c.Join("room:d", nil)
		first.AssertClosed()
		second.AssertReply(second.Push("ping", 1), "ok", nil)
		second.RefutePush("phx_close", nil)
	})
}

func TestBinary(t *testing.T) {
	t.Parallel()
	c := channeltest.Connect(t, newApp(t), nil, nil)
	ch := c.Join("room:lobby", nil)
	ref := ch.Push("binary", protocol.Binary([]byte("abc")))
	ch.AssertPush("bin", protocol.Binary([]byte{1, 2, 3}))
	got := ch.AssertReply(ref, "ok", protocol.Binary([]byte("got:abc")))
	if !got.IsBinary() {
		t.Error("the reply's response is not binary")
	}
}

func TestPresence(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		srv := newApp(t)
		join := map[string]bool{"presence": true}

		ann := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, opts).Join("room:lobby", join)
		state := ann.AssertPresenceState("ann")
		if m := state["ann"].Metas; len(m) != 1 || m[0]["status"] != "online" || m[0]["phx_ref"] == "" {
			t.Errorf("ann's metas: %v", m)
		}
		ann.AssertPresenceDiff([]string{"ann"}, nil)

		bobClient := channeltest.Connect(t, srv, map[string]string{"user": "bob"}, opts)
		bob := bobClient.Join("room:lobby", join)
		bob.AssertPresenceState("bob", "ann")
		bob.AssertPresenceList("ann", "bob")
		ann.AssertPresenceDiff([]string{"bob"}, nil)
		ann.AssertPresenceList("ann", "bob")

		// An update is a leave and a join of the same key.
		ann.Push("status", nil)
		d := bob.AssertPresenceDiff([]string{"ann"}, []string{"ann"})
		if d.Joins["ann"].Metas[0]["status"] != "away" || d.Leaves["ann"].Metas[0]["status"] != "online" {
			t.Errorf("update diff: %+v", d)
		}
		bob.AssertPresenceList("ann", "bob")
		if l := bob.AssertPresenceList("ann", "bob"); len(l["ann"].Metas) != 1 || l["ann"].Metas[0]["status"] != "away" {
			t.Errorf("bob's list after the update: %+v", l)
		}

		// The tracker broadcasts the diffs: the test sees them too.
		ann.AssertBroadcast("presence_diff", nil)

		bobClient.Close()
		ann.AssertPresenceDiff(nil, []string{"bob"})
		ann.AssertPresenceList("ann")
	})
}

func TestConnect(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, opts *channeltest.Options) {
		srv := newApp(t)

		_, resp, err := channeltest.TryConnect(t, srv, map[string]string{"token": "bad"}, opts)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("refused connect: %v, %v; want HTTP 403", resp, err)
		}
		_, resp, err = channeltest.TryConnect(t, srv, map[string]string{"token": "busy"}, opts)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("ErrorHandler: %v, %v; want HTTP 429", resp, err)
		}
		if body, _ := io.ReadAll(resp.Body); string(body) != "slow down" {
			t.Errorf("ErrorHandler's body %q", body)
		}

		// Headers and the auth token reach Connect.
		o := *opts
		o.Header = http.Header{"X-Tenant": {"acme"}}
		o.AuthToken = "s3cret"
		ch := channeltest.Connect(t, srv, nil, &o).Join("room:lobby", nil)
		var resp2 struct{ Assigns map[string]string }
		_ = json.Unmarshal(ch.JoinResponse().Bytes(), &resp2)
		if resp2.Assigns["x-tenant"] != "acme" || resp2.Assigns["token"] != "s3cret" {
			t.Errorf("assigns %v, want x-tenant acme and token s3cret", resp2.Assigns)
		}

		// The server closes connections with the named reasons.
		ann := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, opts)
		if err := srv.Disconnect(context.Background(), "user_socket:ann"); err != nil {
			t.Fatal(err)
		}
		ann.AssertClosed(transport.CloseDisconnect)

		c := channeltest.Connect(t, srv, nil, opts)
		c.Close()
		c.AssertClosed(transport.CloseReason{Code: 1000})
		c.Close() // idempotent

		bob := channeltest.Connect(t, srv, nil, opts)
		shutdown := make(chan error, 1)
		go func() { shutdown <- srv.Shutdown(context.Background()) }()
		bob.AssertClosed(transport.CloseShutdown)
		if err := <-shutdown; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// A handler that is not a *socket.Server: the application's mux with the
// socket mounted under a path of its own.
func TestMux(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	mux := http.NewServeMux()
	mux.Handle("/api/socket/", srv)

	c := channeltest.Connect(t, mux, nil, &channeltest.Options{Mount: "/api/socket", PubSub: srv.PubSub()})
	ch := c.Join("room:lobby", nil)
	ch.AssertReply(ch.Push("shout", map[string]int{"n": 1}), "ok", nil)
	ch.AssertBroadcast("shout", map[string]int{"n": 1})

	_, resp, err := channeltest.TryConnect(t, mux, nil, nil) // at /socket: 404
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("connect at the wrong mount: %v, %v; want 404", resp, err)
	}
}

func TestIdle(t *testing.T) {
	t.Parallel()
	srv, err := socket.New(&socket.Options{Logger: discard, WebSocket: &transport.WebSocketOptions{IdleTimeout: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c := channeltest.Connect(t, srv, nil, nil)
	c.AssertClosed(transport.CloseIdle)
}
