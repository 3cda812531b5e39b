package redis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/redis"
)

// Each node of the app makes its PubSub on its own adapter, all on the
// same Redis. A broadcast on one node reaches the subscribers of every
// node; a subscriber here only sees what is broadcast after its node's
// watch has reached Redis.
func Example() {
	opt, err := goredis.ParseURL("redis://localhost:6379/0") // Or rediss:// for TLS, with user:password@.
	if err != nil {
		log.Fatal(err)
	}
	a, err := redis.New(&redis.Options{Redis: opt, Prefix: "chat"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := pubsub.New(ctx, &pubsub.Options{Node: "web-1", Adapter: a})
	if err != nil {
		log.Fatal(err) // Redis cannot be reached.
	}
	defer ps.Close(context.Background())

	sub, err := ps.Subscribe("room:lobby", pubsub.SubscriberFunc(func(m *pubsub.Message) {
		fmt.Println(m.Event, "from", m.Origin)
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Unsubscribe()

	err = ps.Broadcast(ctx, &pubsub.Message{Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))})
	if err != nil {
		log.Fatal(err)
	}

	st := a.Stats()
	fmt.Println("published", st.Published, "dropped", st.Dropped)
}
