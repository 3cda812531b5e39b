package pubsub_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// A subscriber receives every broadcast on its topic until it
// unsubscribes. Deliver runs in the broadcaster's goroutine, under a read
// lock of the PubSub, so it hands the message off and returns.
func ExamplePubSub_Subscribe() {
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: "node-1"})
	if err != nil {
		panic(err)
	}
	defer ps.Close(context.Background())

	inbox := make(chan *pubsub.Message, 16)
	sub, err := ps.Subscribe("room:lobby", pubsub.SubscriberFunc(func(m *pubsub.Message) {
		select {
		case inbox <- m:
		default: // Full: drop rather than block the broadcaster.
		}
	}))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	_ = ps.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))})
	m := <-inbox
	fmt.Println(m.Topic, m.Event, string(m.Payload.Bytes()), "from", m.Origin)

	sub.Unsubscribe()
	_ = ps.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg"})
	fmt.Println(len(inbox), "after Unsubscribe;", ps.Subscribers("room:lobby"), "subscribers")
	// Output:
	// room:lobby new_msg {"body":"hi"} from node-1
	// 0 after Unsubscribe; 0 subscribers
}

// Message.From spares one subscription: the sender of a broadcast_from.
func ExampleMessage_from() {
	ps, _ := pubsub.New(context.Background(), nil)
	defer ps.Close(context.Background())
	var got []string
	alice, _ := ps.Subscribe("room:lobby", pubsub.SubscriberFunc(func(*pubsub.Message) { got = append(got, "alice") }))
	_, _ = ps.Subscribe("room:lobby", pubsub.SubscriberFunc(func(*pubsub.Message) { got = append(got, "bob") }))

	_ = ps.Broadcast(context.Background(), &pubsub.Message{Topic: "room:lobby", Event: "typing", From: alice})
	fmt.Println(got)
	// Output:
	// [bob]
}

// Two nodes in one process: a broadcast on node-1 reaches node-2's
// subscriber, DirectBroadcast picks one node, and a disconnected node
// gets nothing.
func ExampleCluster() {
	c := pubsub.NewCluster()
	a2 := c.Adapter()
	n1, _ := pubsub.New(context.Background(), &pubsub.Options{Node: "node-1", Adapter: c.Adapter()})
	n2, _ := pubsub.New(context.Background(), &pubsub.Options{Node: "node-2", Adapter: a2})
	ctx := context.Background()
	defer n1.Close(ctx)
	defer n2.Close(ctx)

	_, _ = n2.Subscribe("room:lobby", pubsub.SubscriberFunc(func(m *pubsub.Message) {
		fmt.Println("node-2 got", m.Event, string(m.Payload.Bytes()), "from", m.Origin)
	}))

	_ = n1.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))})
	_ = n1.DirectBroadcast(ctx, "node-2", &pubsub.Message{Topic: "room:lobby", Event: "direct"})

	a2.Disconnect() // As if node-2 crashed.
	_ = n1.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "lost"})
	err := n1.DirectBroadcast(ctx, "node-2", &pubsub.Message{Topic: "room:lobby", Event: "lost"})
	fmt.Println("node-2 unknown:", errors.Is(err, pubsub.ErrUnknownNode))
	// Output:
	// node-2 got new_msg {"body":"hi"} from node-1
	// node-2 got direct {} from node-1
	// node-2 unknown: true
}

// Frame encodes a broadcast once per serializer, on first use; later
// calls return the same bytes.
func ExampleMessage_Frame() {
	m := &pubsub.Message{Topic: "room:1", Event: "shout", Payload: protocol.JSON([]byte(`{"n":1}`))}
	v1, _ := m.Frame(protocol.V1)
	v2, _ := m.Frame(protocol.V2)
	again, _ := m.Frame(protocol.V2)
	fmt.Printf("%s\n%s\n", v1.Data, v2.Data)
	fmt.Println("same bytes:", &v2.Data[0] == &again.Data[0])

	// A binary payload is a binary frame for V2 and an error for V1.
	b := &pubsub.Message{Topic: "room:1", Event: "blob", Payload: protocol.Binary([]byte{1, 2})}
	f, _ := b.Frame(protocol.V2)
	_, err := b.Frame(protocol.V1)
	fmt.Printf("% x binary=%v\n%v\n", f.Data, f.Binary, err)
	// Output:
	// {"topic":"room:1","event":"shout","payload":{"n":1},"ref":null}
	// [null,null,"room:1","shout",{"n":1}]
	// same bytes: true
	// 02 06 04 72 6f 6f 6d 3a 31 62 6c 6f 62 01 02 binary=true
	// protocol: binary payload needs vsn 2.0.0
}
