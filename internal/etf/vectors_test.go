package etf

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// testdata/phoenix-pubsub-redis.json holds what phoenix_pubsub_redis 3.x
// (Phoenix 1.7.24, Erlang/OTP 25.2.3) publishes on Redis: {3, mode,
// node, topic, message, dispatcher}, once compressed at level 6.

type redisVectors struct {
	Messages []struct {
		Name       string `json:"name"`
		Compressed int    `json:"compressed"`
		Hex        string `json:"hex"`
		Inspect    string `json:"inspect"`
	} `json:"messages"`
}

func loadRedisVectors(t testing.TB) redisVectors {
	t.Helper()
	raw, err := os.ReadFile("testdata/phoenix-pubsub-redis.json")
	if err != nil {
		t.Fatal(err)
	}
	var v redisVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Messages) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

func broadcast(event string, payload any) map[any]any {
	return map[any]any{
		Atom("__struct__"): Atom("Elixir.Phoenix.Socket.Broadcast"),
		Atom("topic"):      "room:lobby",
		Atom("event"):      event,
		Atom("payload"):    payload,
	}
}

var chatPayload = map[string]any{
	"body": "hi",
	"n":    1.5,
	"none": nil,
	"ok":   true,
	"tags": []any{"a"},
	"user": map[string]any{"id": int64(7)},
}

// redisWant is each vector's term, written from its "inspect" field.
var redisWant = map[string]any{
	"broadcast, mode except, from node1, fastlane dispatcher": Tuple{int64(3), Atom("except"), Atom("node1@127.0.0.1"), "room:lobby",
		broadcast("new_msg", chatPayload), Atom("Elixir.Phoenix.Channel.Server")},
	"same, compressed level 6": Tuple{int64(3), Atom("except"), Atom("node1@127.0.0.1"), "room:lobby",
		broadcast("new_msg", chatPayload), Atom("Elixir.Phoenix.Channel.Server")},
	"direct broadcast to node2 (mode only)": Tuple{int64(3), Atom("only"), Atom("node2@127.0.0.1"), "room:lobby",
		broadcast("new_msg", chatPayload), Atom("Elixir.Phoenix.Channel.Server")},
	"disconnect broadcast on a socket id topic": Tuple{int64(3), Atom("except"), Atom("node1@127.0.0.1"), "user_socket:42",
		map[any]any{
			Atom("__struct__"): Atom("Elixir.Phoenix.Socket.Broadcast"),
			Atom("topic"):      "user_socket:42",
			Atom("event"):      "disconnect",
			Atom("payload"):    nil,
		}, Atom("Elixir.Phoenix.PubSub")},
	"broadcast with atom-keyed payload (server-side Endpoint.broadcast)": Tuple{int64(3), Atom("except"), Atom("node1@127.0.0.1"), "room:lobby",
		broadcast("tick", map[any]any{Atom("at"): "now", Atom("count"): int64(3)}), Atom("Elixir.Phoenix.Channel.Server")},
}

func TestRedisVectors(t *testing.T) {
	t.Parallel()
	for _, m := range loadRedisVectors(t).Messages {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			data := unhex(t, m.Hex)
			if m.Compressed > 0 && data[1] != tagCompressed {
				t.Fatalf("vector says compressed, tag is %d", data[1])
			}
			got, err := Decode(data)
			success(t, err)
			want, ok := redisWant[m.Name]
			if !ok {
				t.Fatalf("no expected term for %q (%s)", m.Name, m.Inspect)
			}
			deepEqual(t, got, want)

			// Uncompressed vectors are canonical: Encode gives the same bytes.
			enc, err := Encode(got)
			success(t, err)
			if m.Compressed == 0 && !bytes.Equal(enc, data) {
				t.Fatalf("re-encoded\n got %x\nwant %x", enc, data)
			}
			again, err := Decode(enc)
			success(t, err)
			deepEqual(t, again, want)
		})
	}
}
