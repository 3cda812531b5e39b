package presence_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// Track and list outside of a channel: the owner ("job-7") is whatever
// holds the entry.
func ExampleTracker_Track() {
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: "node-1"})
	if err != nil {
		panic(err)
	}
	defer ps.Close(context.Background())
	tr, err := presence.New(ps, nil)
	if err != nil {
		panic(err)
	}
	defer tr.Shutdown(context.Background())

	_, _ = tr.Track("job-7", "jobs", "importer", map[string]any{"progress": 10})
	_, _ = tr.Update("job-7", "jobs", "importer", map[string]any{"progress": 80})

	p := tr.Get(context.Background(), "jobs", "importer")
	fmt.Println(len(p.Metas), p.Metas[0].Fields["progress"], p.Metas[0].PrevRef != "")
	// Output: 1 80 true
}

// Room is a chat room whose clients see who is online with phoenix.js
// Presence:
//
//	const presence = new Presence(channel)
//	presence.onSync(() => render(presence.list((id, {metas}) => id)))
type Room struct {
	Presence *presence.Tracker
	user     string
}

type afterJoinMsg struct{}

func (r *Room) Join(_ context.Context, s *channel.Socket, _ string, _ protocol.Payload) (any, error) {
	r.user, _ = s.Assigns["user"].(string)
	s.Send(afterJoinMsg{}) // Pushes wait for the join reply.
	return nil, nil
}

// HandleInfo tracks the user and pushes presence_state. The entry goes
// away by itself when the channel ends.
func (r *Room) HandleInfo(ctx context.Context, s *channel.Socket, _ any) error {
	_, err := r.Presence.TrackAndPushState(ctx, s, r.user, map[string]any{
		"online_at": time.Now().Unix(),
	})
	return err
}

// A channel tracks its user after the join; see Room. Register it with the
// socket server as any channel:
//
//	tr, _ := presence.New(ps, nil)
//	srv.Channel("room:*", func() channel.Handler { return &Room{Presence: tr} })
func ExampleTracker_TrackAndPushState() {
	var _ channel.InfoHandler = (*Room)(nil)
}

// Fetch adds fields beside the metas, for every list and diff.
func ExampleOptions_fetch() {
	names := map[string]string{"42": "Ann"}
	ps, err := pubsub.New(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	defer ps.Close(context.Background())
	tr, err := presence.New(ps, &presence.Options{
		Fetch: func(_ context.Context, _ string, ps map[string]*presence.Presence) {
			for id, p := range ps {
				p.Extra = map[string]any{"name": names[id]}
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer tr.Shutdown(context.Background())

	_, _ = tr.Track("conn-1", "room:1", "42", nil)
	p := tr.Get(context.Background(), "room:1", "42")
	fmt.Println(p.Extra["name"], len(p.Metas))
	// Output: Ann 1
}

// Two nodes: an entry tracked on one is listed on the other.
func Example_cluster() {
	c := pubsub.NewCluster()
	ps1, _ := pubsub.New(context.Background(), &pubsub.Options{Node: "node-1", Adapter: c.Adapter()})
	ps2, _ := pubsub.New(context.Background(), &pubsub.Options{Node: "node-2", Adapter: c.Adapter()})
	defer ps1.Close(context.Background())
	defer ps2.Close(context.Background())
	n1, _ := presence.New(ps1, nil)
	n2, _ := presence.New(ps2, nil)
	defer n1.Shutdown(context.Background())
	defer n2.Shutdown(context.Background())

	_, _ = n1.Track("conn-1", "room:1", "ann", map[string]any{"device": "phone"})
	for len(n2.List(context.Background(), "room:1")) == 0 {
		time.Sleep(time.Millisecond) // Replication is asynchronous.
	}
	fmt.Println(n2.Get(context.Background(), "room:1", "ann").Metas[0].Fields["device"])
	// Output: phone
}
