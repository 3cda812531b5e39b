package pubsub_test

import (
	"context"
	"fmt"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// A subscriber receives every broadcast on its topics. Deliver runs in the
// broadcaster's goroutine, under a read lock of the PubSub, so it hands
// the message off and returns.
func ExampleLocal() {
	ps := pubsub.NewLocal("node-1")

	inbox := make(chan *pubsub.Message, 16)
	sub := pubsub.SubscriberFunc(func(m *pubsub.Message) {
		select {
		case inbox <- m:
		default: // full: drop rather than block the broadcaster
		}
	})
	ps.Subscribe("room:lobby", &sub)
	defer ps.Unsubscribe("room:lobby", &sub)

	err := ps.Broadcast(context.Background(), &pubsub.Message{
		Topic:   "room:lobby",
		Event:   "new_msg",
		Payload: protocol.JSON([]byte(`{"body":"hi"}`)),
	})
	if err != nil {
		panic(err)
	}

	m := <-inbox
	fmt.Println(m.Topic, m.Event, string(m.Payload.Bytes()))
	// The frame a V2 client gets; every V2 subscriber shares these bytes.
	f, err := m.Frame(protocol.V2)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s binary=%v\n", f.Data, f.Binary)
	// Output:
	// room:lobby new_msg {"body":"hi"}
	// [null,null,"room:lobby","new_msg",{"body":"hi"}] binary=false
}

// Message.From skips one subscriber: the sender of a broadcast_from.
func ExampleMessage_from() {
	ps := pubsub.NewLocal("node-1")
	var got []string
	alice := pubsub.SubscriberFunc(func(*pubsub.Message) { got = append(got, "alice") })
	bob := pubsub.SubscriberFunc(func(*pubsub.Message) { got = append(got, "bob") })
	ps.Subscribe("room:lobby", &alice)
	ps.Subscribe("room:lobby", &bob)
	fmt.Println(ps.Subscribers("room:lobby"), "subscribers")

	ps.LocalBroadcast(&pubsub.Message{Topic: "room:lobby", Event: "typing", From: &alice})
	fmt.Println(got)
	// Output:
	// 2 subscribers
	// [bob]
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
