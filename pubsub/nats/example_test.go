package nats_test

import (
	"context"
	"log"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	pubsubnats "github.com/pyrehq/pyre/pubsub/nats"
)

// A node of a cluster whose nodes share broadcasts through NATS. Every
// node runs the same code with its own name. (Compiled, not run: it needs
// a NATS server.)
func Example() {
	a, err := pubsubnats.New(&pubsubnats.Options{
		URL:    "nats://nats-1:4222,nats://nats-2:4222",
		Prefix: "chat", // Apps sharing the NATS server use other prefixes.
		NATS: []nats.Option{
			nats.UserInfo("chat", "secret"),
			nats.RootCAs("/etc/chat/nats-ca.pem"),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := pubsub.New(ctx, &pubsub.Options{Node: "web-1", Adapter: a}) // Connects.
	if err != nil {
		log.Fatal(err)
	}
	defer ps.Close(context.Background()) // Flushes and disconnects.

	// Subscribers on every node of the cluster get it.
	err = ps.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))})
	if err != nil {
		log.Print(err)
	}
	log.Printf("%+v", a.Stats())
}
