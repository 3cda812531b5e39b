package socket_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pyrehq/pyre/internal/longpoll"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

// testSecret signs the tokens of every server of twoNodes.
var testSecret = []byte("shared secret of the cluster")

// testPubSubTimeout is how long twoNodes's servers wait for another node
// to acknowledge a request.
const testPubSubTimeout = 200 * time.Millisecond

// twoNodes is two servers on two nodes of one cluster, with one secret:
// what sits behind a load balancer without sticky sessions.
func twoNodes(t *testing.T) (a, b *testServer, cluster *pubsub.Cluster) {
	t.Helper()
	cluster = pubsub.NewCluster()
	for i, s := range []**testServer{&a, &b} {
		ps, adapter := clusterNode(t, cluster, fmt.Sprintf("node-%d", i))
		*s = newServer(t, &socket.Options{
			PubSub: ps,
			LongPoll: &transport.LongPollOptions{
				Window: testWindow, ParkAfter: testParkAfter, Secret: testSecret, PubSubTimeout: testPubSubTimeout,
			},
		})
		(*s).adapter = adapter
	}
	return a, b, cluster
}

// clusterNode is a PubSub on a new node of cluster, closed when the test
// ends.
func clusterNode(t *testing.T, cluster *pubsub.Cluster, name string) (*pubsub.PubSub, *pubsub.ClusterAdapter) {
	t.Helper()
	adapter := cluster.Adapter()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: name, Adapter: adapter, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close(context.Background()) })
	return ps, adapter
}

// TestLongPollAcrossNodes: a session opened on one node is used through
// the other, each request carried through the PubSub to the node that
// holds the session (docs/protocol.md, "Poll").
func TestLongPollAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b, _ := twoNodes(t)
	token := lpOpen(t, a, "vsn=2.0.0")

	// A publish through b reaches the session on a.
	h, body := ndjson(`["1","1","room:far","phx_join",{}]`, `["1","2","room:far","echo",{"n":1}]`)
	if st := lpPublish(t, b, token, h, body); st != 200 {
		t.Fatalf("publish through the other node: status %d", st)
	}
	if a.rec.socket("room:far") == nil || b.rec.socket("room:far") != nil {
		t.Fatal("the channel was not joined on the node holding the session")
	}
	// A poll through b takes what is buffered on a.
	expectMsgs(t, lpCollect(t, b, token, 2),
		wstest.Reply("1", "1", "room:far", "ok", `{}`),
		wstest.Reply("1", "2", "room:far", "ok", `{"n":1}`))

	// A poll through b that waits is woken by a broadcast on a, and one
	// through a after it sees the next: the polls alternate nodes, as
	// behind a round-robin balancer.
	got := make(chan []wstest.Msg, 1)
	go func() {
		_, msgs := lpPoll(t, b, token)
		got <- msgs
	}()
	time.Sleep(100 * time.Millisecond)
	if err := a.Broadcast(context.Background(), "room:far", "shout", map[string]int{"n": 2}); err != nil {
		t.Fatal(err)
	}
	expectMsgs(t, <-got, wstest.M(wstest.Null, wstest.Null, "room:far", "shout", `{"n":2}`))
	if err := b.Broadcast(context.Background(), "room:far", "shout", map[string]int{"n": 3}); err != nil {
		t.Fatal(err)
	}
	expectMsgs(t, lpCollect(t, a, token, 1), wstest.M(wstest.Null, wstest.Null, "room:far", "shout", `{"n":3}`))

	// Nothing to send: 204 after the window, through b.
	start := time.Now()
	if st, msgs := lpPoll(t, b, token); st != 204 || msgs != nil {
		t.Fatalf("empty poll through the other node: %d %v", st, msgs)
	}
	if d := time.Since(start); d < testWindow*3/4 {
		t.Fatalf("empty poll through the other node answered after %v", d)
	}

	// An invalid base64 line is HTTP 400, as on the holding node.
	h, body = ndjson("not base64!")
	if a := lpDo(t, b, "POST", "vsn=2.0.0&token="+token, h, body); a.code != 400 {
		t.Fatalf("invalid base64 through the other node: HTTP %d %q", a.code, a.body)
	}
}

// TestLongPollAcrossNodesGone: a session that ended on its node, whose
// node cannot be reached, or that no server holds, is unknown to the
// other node: a poll there opens a new session (410 with a new token) and
// a publish gets 410, at once or after PubSubTimeout.
func TestLongPollAcrossNodesGone(t *testing.T) {
	t.Parallel()
	a, b, cluster := twoNodes(t)

	ended := lpOpen(t, a, "vsn=2.0.0")
	// A frame that does not decode ends the session (408).
	if st := lpPublish(t, a, ended, nil, "not a frame"); st != 408 {
		t.Fatalf("undecodable publish: %d", st)
	}
	unreachable := lpOpen(t, a, "vsn=2.0.0")
	a.adapter.Disconnect()
	t.Cleanup(a.adapter.Connect)
	// A well-signed token of a server that is not there (a restarted
	// process): nothing answers, nothing acks.
	silent := longpoll.NewSigner(testSecret, 0).Sign(longpoll.Token{Node: "node-0", Session: "gone.x"}, time.Now())
	clusterNode(t, cluster, "node-2") // A third node, to route to.
	silentElsewhere := longpoll.NewSigner(testSecret, 0).Sign(longpoll.Token{Node: "node-2", Session: "gone.x"}, time.Now())
	// A server of b's node that is no longer running: known at once.
	restarted := longpoll.NewSigner(testSecret, 0).Sign(longpoll.Token{Node: "node-1", Session: "gone.x"}, time.Now())

	for name, token := range map[string]string{"ended": ended, "unreachable": unreachable, "no such server": silent, "no server on the node": silentElsewhere, "restarted": restarted} {
		start := time.Now()
		if st := lpPublish(t, b, token, nil, `["1","1","room:x","phx_join",{}]`); st != 410 {
			t.Errorf("%s: publish through the other node: status %d, want 410", name, st)
		}
		got := lpDo(t, b, "GET", "vsn=2.0.0&token="+token, nil, "")
		if got.Status != 410 || got.Token == "" || got.Token == token {
			t.Errorf("%s: poll through the other node: status %d, token %q; want 410 and a new session", name, got.Status, got.Token)
		}
		if d := time.Since(start); d > testWindow || name == "restarted" && d >= testPubSubTimeout {
			t.Errorf("%s: answered after %v, want at once", name, d)
		}
		// The new session lives on b.
		if st, _ := lpPoll(t, b, got.Token); st != 204 {
			t.Errorf("%s: poll of the new session: status %d", name, st)
		}
	}
}
