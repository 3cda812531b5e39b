package socket_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pyrehq/pyre/internal/slowwatch"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
)

// lateNodes is two servers on two nodes of one cluster, with opts (nil:
// the defaults); the watches of b's node take effect 50 ms late, as a
// network broker's do (pubsub/redis, pubsub/nats), while a's take effect
// at once.
func lateNodes(t *testing.T, opts func() *socket.Options) (a, b *testServer) {
	t.Helper()
	cluster := pubsub.NewCluster()
	for i, adapter := range []pubsub.Adapter{cluster.Adapter(), slowwatch.New(cluster, slowwatch.Delayed, 50*time.Millisecond)} {
		ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: fmt.Sprint("node-", i), Adapter: adapter, Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ps.Close(context.Background()) })
		o := &socket.Options{}
		if opts != nil {
			o = opts()
		}
		o.PubSub = ps
		s := newServer(t, o)
		if i == 0 {
			a = s
		} else {
			b = s
		}
	}
	return a, b
}

// A client that has its join reply gets the broadcasts made on another
// node right after it, although the node it is connected to asks the
// broker for the topic only on this join.
func TestJoinReplyMeansBroadcastsFromEveryNode(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		a, b := lateNodes(t, nil)
		c := b.dial(t, m, "")
		for i := range 5 {
			topic := fmt.Sprint("room:late-", i)
			joinOK(t, c, m, topic, "")
			if err := a.Broadcast(context.Background(), topic, "from_a", map[string]int{"i": i}); err != nil {
				t.Fatal(err)
			}
			c.Expect(wstest.M(wstest.Null, wstest.Null, topic, "from_a", fmt.Sprintf(`{"i":%d}`, i)))
		}
	})
}

// A Disconnect made on another node as soon as a client is connected
// reaches it: the connection is established once the subscription of its
// socket id is ready on every node.
func TestDisconnectFromAnotherNodeRightAfterConnect(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		a, b := lateNodes(t, idOptions)
		for i := range 5 {
			id := fmt.Sprint("late-", i)
			c := b.dial(t, m, "user_id="+id)
			if err := a.Disconnect(context.Background(), "user_socket:"+id); err != nil {
				t.Fatal(err)
			}
			expectClosed(c, m, websocket.StatusGoingAway)
		}
	})
}
