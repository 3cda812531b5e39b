package channel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/socket"
)

// ChatRoom is a channel handler: Phoenix's
//
//	def join("room:" <> _, %{"user" => user}, socket), do: {:ok, assign(socket, :user, user)}
//	def handle_in("new_msg", %{"body" => body}, socket) do
//	  broadcast!(socket, "new_msg", %{user: socket.assigns.user, body: body})
//	  {:reply, :ok, socket}
//	end
//
// A new ChatRoom is made for every join, so its fields are the channel's
// state, and its callbacks run one at a time: it needs no locking.
type ChatRoom struct {
	user string
}

func (r *ChatRoom) Join(_ context.Context, _ *channel.Socket, _ string, payload protocol.Payload) (any, error) {
	var p struct{ User string }
	if err := json.Unmarshal(payload.Bytes(), &p); err != nil || p.User == "" {
		// The client's join gets {"status":"error","response":{"reason":"name required"}}.
		return nil, channel.Refuse(map[string]string{"reason": "name required"})
	}
	r.user = p.User
	return map[string]string{"welcome": p.User}, nil // the join reply's response
}

func (r *ChatRoom) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "new_msg":
		var m struct{ Body string }
		if err := json.Unmarshal(in.Payload.Bytes(), &m); err != nil {
			return in.Reply("error", map[string]string{"reason": "bad payload"})
		}
		if err := s.Broadcast(ctx, "new_msg", map[string]string{"user": r.user, "body": m.Body}); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	case "whoami":
		return in.Reply("ok", map[string]string{"user": r.user})
	}
	return in.Reply("error", map[string]string{"reason": "unknown event"})
}

// A client joins a ChatRoom, is refused without a name, and gets the
// broadcast of its own message before the reply to its push.
func ExampleHandler() {
	c, _, stop := exServe(func() channel.Handler { return &ChatRoom{} })
	defer stop()

	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()
	c.send(`["2","2","room:lobby","phx_join",{"user":"ann"}]`)
	c.print()
	c.send(`["2","3","room:lobby","new_msg",{"body":"hi"}]`)
	c.print()
	c.print()
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"error","response":{"reason":"name required"}}]
	// ["2","2","room:lobby","phx_reply",{"status":"ok","response":{"welcome":"ann"}}]
	// [null,null,"room:lobby","new_msg",{"body":"hi","user":"ann"}]
	// ["2","3","room:lobby","phx_reply",{"status":"ok","response":{}}]
}

// SlowRoom answers "lookup" from another goroutine.
type SlowRoom struct{}

func (SlowRoom) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (SlowRoom) HandleIn(_ context.Context, _ *channel.Socket, in *channel.Message) error {
	ref := in.ReplyRef() // keep it: in itself must not leave the callback
	go func() {
		time.Sleep(10 * time.Millisecond) // a slow lookup
		_ = ref.Reply("ok", map[string]string{"found": "yes"})
	}()
	return nil // no reply yet; the channel goes on with its next message
}

// A handler that returns without replying can reply later, from any
// goroutine, with a ReplyRef (Phoenix's socket_ref).
func ExampleMessage_ReplyRef() {
	c, _, stop := exServe(func() channel.Handler { return SlowRoom{} })
	defer stop()

	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()
	c.send(`["1","2","room:lobby","lookup",{}]`)
	c.print()
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// ["1","2","room:lobby","phx_reply",{"status":"ok","response":{"found":"yes"}}]
}

// afterJoin is the message a GreetingRoom sends itself from Join.
type afterJoin struct{}

// GreetingRoom pushes a greeting right after the join reply.
type GreetingRoom struct{}

func (GreetingRoom) Join(_ context.Context, s *channel.Socket, _ string, _ protocol.Payload) (any, error) {
	s.Send(afterJoin{}) // handled once the join reply is on its way
	return nil, nil
}

func (GreetingRoom) HandleInfo(_ context.Context, s *channel.Socket, msg any) error {
	if _, ok := msg.(afterJoin); ok {
		return s.Push("greeting", map[string]string{"text": "welcome to " + s.Topic()})
	}
	return nil
}

// Pushes belong after the join reply. Join sends itself a message with
// Socket.Send, and HandleInfo pushes: Phoenix's send(self(), :after_join).
func ExampleSocket_Send() {
	c, _, stop := exServe(func() channel.Handler { return GreetingRoom{} })
	defer stop()

	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()
	c.print()
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// ["1",null,"room:lobby","greeting",{"text":"welcome to room:lobby"}]
}

// NewsRoom subscribes each joined client to the "news" topic, whose
// broadcasts it turns into pushes of its own.
type NewsRoom struct{}

func (NewsRoom) Join(_ context.Context, s *channel.Socket, _ string, _ protocol.Payload) (any, error) {
	return nil, s.Subscribe("news") // ends with the channel
}

func (NewsRoom) HandleInfo(_ context.Context, s *channel.Socket, msg any) error {
	if b, ok := msg.(channel.Broadcast); ok && b.Event == "headline" {
		return s.Push("news", b.Payload)
	}
	return nil
}

// A channel may subscribe to other topics, as Phoenix channels call
// Endpoint.subscribe: their broadcasts reach HandleInfo as Broadcast
// values, in order with the channel's other messages, and go to the
// client only if the channel pushes them.
func ExampleSocket_Subscribe() {
	c, srv, stop := exServe(func() channel.Handler { return NewsRoom{} })
	defer stop()

	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()
	if err := srv.Broadcast(context.Background(), "news", "headline", map[string]string{"title": "Pyre 1.0"}); err != nil {
		log.Fatal(err)
	}
	c.print()
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// ["1",null,"room:lobby","news",{"title":"Pyre 1.0"}]
}

// StampRoom intercepts "new_msg" to add a field per subscriber.
type StampRoom struct{}

func (StampRoom) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (StampRoom) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	return s.Broadcast(ctx, in.Event, in.Payload)
}

func (StampRoom) Intercept() []string { return []string{"new_msg"} }

func (StampRoom) HandleOut(_ context.Context, s *channel.Socket, event string, payload protocol.Payload) error {
	var m map[string]any
	if err := json.Unmarshal(payload.Bytes(), &m); err != nil {
		return err
	}
	m["transport"] = s.Transport()
	return s.Push(event, m) // or return nil without pushing to drop it
}

// An intercepted event reaches each subscriber as a push from its own
// channel, with the channel's join_ref; any other event takes the fast
// lane, [null, null, topic, event, payload], encoded once.
func ExampleOutHandler() {
	c, _, stop := exServe(func() channel.Handler { return StampRoom{} })
	defer stop()

	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()
	c.send(`["1","2","room:lobby","new_msg",{"body":"hi"}]`)
	c.print()
	c.send(`["1","3","room:lobby","shout",{"body":"HI"}]`)
	c.print()
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// ["1",null,"room:lobby","new_msg",{"body":"hi","transport":"websocket"}]
	// [null,null,"room:lobby","shout",{"body":"HI"}]
}

// ByeRoom stops on "bye", fails on "fail" and records why it ended.
type ByeRoom struct {
	reasons chan<- error
}

func (ByeRoom) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (ByeRoom) HandleIn(_ context.Context, _ *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "bye":
		return channel.ErrStop // a normal stop: phx_close, no rejoin
	case "fail":
		return errors.New("database down") // a crash: phx_error, phoenix.js rejoins
	}
	return nil
}

func (r ByeRoom) Terminate(_ context.Context, _ *channel.Socket, reason error) {
	r.reasons <- reason
}

// A callback that returns channel.ErrStop (or an error wrapping it) ends
// the channel normally: the client gets phx_close before Terminate runs.
// Any other error, or a panic, is a crash: Terminate runs, then the client
// gets phx_error. The connection and its other channels stay up.
func Example_stop() {
	reasons := make(chan error, 2)
	c, _, stop := exServe(func() channel.Handler { return ByeRoom{reasons: reasons} })
	defer stop()

	c.send(`["1","1","room:a","phx_join",{}]`)
	c.print()
	c.send(`["1","2","room:a","bye",{}]`)
	c.print()
	fmt.Println("terminate:", <-reasons)

	c.send(`["3","3","room:b","phx_join",{}]`)
	c.print()
	c.send(`["3","4","room:b","fail",{}]`)
	c.print()
	fmt.Println("terminate:", <-reasons)
	// Output:
	// ["1","1","room:a","phx_reply",{"status":"ok","response":{}}]
	// ["1","1","room:a","phx_close",{}]
	// terminate: channel: stop
	// ["3","3","room:b","phx_reply",{"status":"ok","response":{}}]
	// ["3","3","room:b","phx_error",{"reason":"channel_crash"}]
	// terminate: database down
}

// IsNormal tells a normal end from a crash, for instance in Terminate.
func ExampleIsNormal() {
	fmt.Println(channel.IsNormal(channel.ErrLeft))
	fmt.Println(channel.IsNormal(fmt.Errorf("done: %w", channel.ErrStop)))
	fmt.Println(channel.IsNormal(errors.New("database down")))
	fmt.Println(channel.IsNormal(&channel.PanicError{Value: "boom"}))
	// Output:
	// true
	// true
	// false
	// false
}

// exClient is a bare Phoenix V2 wire client for these examples: it sends
// raw frames and prints what it reads. Applications use phoenix.js.
type exClient struct{ ws *websocket.Conn }

// exServe serves newHandler on "room:*" (logging nothing: the examples
// crash channels on purpose) and connects a client. stop closes the
// client and shuts the server down.
func exServe(newHandler func() channel.Handler) (*exClient, *socket.Server, func()) {
	srv, err := socket.New(&socket.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	srv.Channel("room:*", newHandler)
	ts := httptest.NewServer(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket/websocket?vsn=2.0.0"
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	return &exClient{ws}, srv, func() {
		ws.Close(websocket.StatusNormalClosure, "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Fatal(err)
		}
		ts.Close()
	}
}

func (c *exClient) send(frame string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		log.Fatal(err)
	}
}

// print prints the next frame, or the close code and reason.
func (c *exClient) print() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		fmt.Printf("closed: %d %q\n", ce.Code, ce.Reason)
	case err != nil:
		fmt.Println("error:", err)
	default:
		fmt.Println(string(data))
	}
}
