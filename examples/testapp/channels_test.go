package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/pubsub"
)

// clusterNode serves the whole app as node name of cluster, and shuts it
// down when the test ends. It returns the /socket mount's URL.
func clusterNode(t *testing.T, cluster *pubsub.Cluster, name string) string {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: name, Adapter: cluster.Adapter(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(ps, []byte("cluster secret"), logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(app)
	t.Cleanup(func() {
		_ = app.Shutdown(context.Background())
		hs.Close()
	})
	return hs.URL + "/socket"
}

// nextOf reads c's next frame that is not a RoomChannel join's own
// user_entered or joined, whose order relative to the other clients'
// joins is not set.
func nextOf(t *testing.T, c *wstest.Client) wstest.Msg {
	t.Helper()
	for {
		m := c.Read()
		if m.Event != "user_entered" && m.Event != "joined" {
			return m
		}
	}
}

// shout_from reaches every subscriber of the topic but its sender, on
// every node, as a shout (Phoenix's broadcast_from).
func TestRoomShoutFrom(t *testing.T) {
	t.Parallel()
	cluster := pubsub.NewCluster()
	node1, node2 := clusterNode(t, cluster, "node-1"), clusterNode(t, cluster, "node-2")
	const topic = "room:from"

	sender := wstest.Dial(t, wstest.URL(node1, "", "2.0.0"), "2.0.0", nil)
	local := wstest.Dial(t, wstest.URL(node1, "", "2.0.0"), "2.0.0", nil)
	remote := wstest.Dial(t, wstest.URL(node2, "", "1.0.0"), "1.0.0", nil)
	for _, c := range []*wstest.Client{sender, local, remote} {
		jr, ref := c.Join(topic, `{}`)
		if c.V1() {
			jr = wstest.Null
		}
		if m := nextOf(t, c); !wstest.Equal(m, wstest.Reply(jr, ref, topic, "ok", `{}`)) {
			t.Fatalf("join reply %v", m)
		}
	}

	sender.Push(topic, "shout_from", `{"body":"hi"}`)
	want := wstest.M(wstest.Null, wstest.Null, topic, "shout", `{"body":"hi"}`)
	for name, c := range map[string]*wstest.Client{"node-1": local, "node-2": remote} {
		if m := nextOf(t, c); !wstest.Equal(m, want) {
			t.Fatalf("the other client on %s got %v, want %v", name, m, want)
		}
	}
	// The sender's next frame is the reply to a later push, not the shout.
	ref := sender.Push(topic, "echo", `{"n":1}`)
	if m := nextOf(t, sender); !wstest.Equal(m, wstest.Reply(sender.JoinRef(topic), ref, topic, "ok", `{"n":1}`)) {
		t.Fatalf("the sender got %v, want only its echo reply", m)
	}
}
