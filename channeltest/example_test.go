package channeltest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/channeltest"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
)

// ChatRoom is the channel these examples test. Phoenix:
//
//	def join("room:" <> _, _params, socket) do
//	  send(self(), :after_join)
//	  {:ok, %{user: socket.assigns.user}, socket}
//	end
//	def handle_info(:after_join, socket), do: track and push presence_state
//	def handle_in("new_msg", %{"body" => body}, socket) do
//	  broadcast!(socket, "new_msg", %{user: socket.assigns.user, body: body})
//	  {:reply, :ok, socket}
//	end
type ChatRoom struct {
	Presence *presence.Tracker
	user     string
}

type chatAfterJoin struct{}

func (r *ChatRoom) Join(_ context.Context, s *channel.Socket, topic string, _ protocol.Payload) (any, error) {
	r.user, _ = s.Assigns["user"].(string)
	if topic == "room:admins" {
		return nil, channel.Refuse(map[string]string{"reason": "unauthorized"})
	}
	s.Send(chatAfterJoin{})
	return map[string]string{"user": r.user}, nil
}

func (r *ChatRoom) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	_, err := r.Presence.TrackAndPushState(ctx, s, r.user, map[string]any{"online_at": time.Now().Unix()})
	return err
}

func (r *ChatRoom) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "new_msg":
		var m struct{ Body string }
		if err := json.Unmarshal(in.Payload.Bytes(), &m); err != nil || m.Body == "" {
			return in.Reply("error", map[string]string{"reason": "empty message"})
		}
		msg := map[string]any{"user": r.user, "body": m.Body, "at": time.Now().UnixMilli()}
		if err := s.Broadcast(ctx, "new_msg", msg); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	}
	return in.Reply("error", map[string]string{"reason": "unknown event"})
}

// newChatServer is the helper an application's tests share: the
// application's socket.Server, shut down when the test ends. Its Connect
// takes the user from the "user" param and refuses anonymous clients.
func newChatServer(t testing.TB) *socket.Server {
	t.Helper()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	tracker, err := presence.New(ps, &presence.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := socket.New(&socket.Options{
		PubSub: ps,
		Logger: discard,
		Connect: func(_ context.Context, params socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			if params.Get("user") == "" {
				return nil, socket.ErrRefused
			}
			return map[string]any{"user": params.Get("user")}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Channel("room:*", func() channel.Handler { return &ChatRoom{Presence: tracker} })
	// Registered before Connect, so it runs after the clients have closed.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = tracker.Shutdown(ctx)
		_ = ps.Close(ctx)
	})
	return srv
}

// A test of ChatRoom: connect, join, push, and assert on the reply, the
// broadcast and what the client received. In a _test.go file the body is
// a func TestChatRoom(t *testing.T); here runTest plays go test.
func Example() {
	runTest(func(t testing.TB) {
		srv := newChatServer(t)
		c := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, nil)
		ch := c.Join("room:lobby", nil)
		fmt.Printf("joined: %s\n", ch.JoinResponse().Bytes())

		ref := ch.Push("new_msg", map[string]string{"body": "hi"})
		ch.AssertReply(ref, "ok", nil)
		// "at" differs each time: match the rest with a predicate.
		ch.AssertBroadcastFunc("new_msg", func(p protocol.Payload) bool {
			var m struct{ User, Body string }
			return json.Unmarshal(p.Bytes(), &m) == nil && m.User == "ann" && m.Body == "hi"
		})
		// Or take the payload and check it yourself.
		p := ch.AssertPush("new_msg", nil)
		var m map[string]any
		if err := json.Unmarshal(p.Bytes(), &m); err != nil || m["body"] != "hi" {
			t.Fatalf("pushed %s", p.Bytes())
		}

		ch.AssertReply(ch.Push("new_msg", map[string]string{"body": ""}), "error", map[string]string{"reason": "empty message"})
		ch.RefutePush("new_msg", nil) // nothing was broadcast for the empty one
	})
	// Output:
	// joined: {"user":"ann"}
}

// Refused connections and joins.
func ExampleTryConnect() {
	runTest(func(t testing.TB) {
		srv := newChatServer(t)
		_, resp, err := channeltest.TryConnect(t, srv, nil, nil) // no user
		fmt.Println(resp.StatusCode, err != nil)

		c := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, nil)
		c.AssertJoinError("room:admins", nil, map[string]string{"reason": "unauthorized"})
	})
	// Output:
	// 403 true
}

// Presence: each client gets presence_state after its join, then a
// presence_diff for every change, which the kit folds into the list
// phoenix.js's Presence would show.
func ExampleChannel_AssertPresenceList() {
	runTest(func(t testing.TB) {
		srv := newChatServer(t)
		ann := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, nil).Join("room:lobby", nil)
		ann.AssertPresenceState("ann")

		bobClient := channeltest.Connect(t, srv, map[string]string{"user": "bob"}, nil)
		bob := bobClient.Join("room:lobby", nil)
		state := bob.AssertPresenceState("ann", "bob")
		fmt.Println(state.Keys(), len(state["bob"].Metas))
		ann.AssertPresenceList("ann", "bob")

		bobClient.Close() // its channel ends: bob leaves
		ann.AssertPresenceDiff(nil, []string{"bob"})
		fmt.Println(ann.AssertPresenceList("ann").Keys())
	})
	// Output:
	// [ann bob] 1
	// [ann]
}

// What a failing assertion reports, after the test's file and line (which
// runTest does not print): what came and what was expected, with each
// difference on a line of its own. An assertion that times out also lists
// everything received on the topic and not asserted yet.
func Example_failure() {
	runTest(func(t testing.TB) {
		srv := newChatServer(t)
		ch := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, nil).Join("room:lobby", nil)
		ref := ch.Push("new_msg", map[string]string{"body": ""})
		ch.AssertReply(ref, "ok", nil)
	})
	// Output:
	// --- FAIL: channeltest: the reply to push "new_msg" (ref "3") on "room:lobby" does not match
	// 	got:  error {"reason":"empty message"}
	// 	want: ok (any payload)
	// 	status: got "error", want "ok"
}

// A handler that is not a *socket.Server, such as the application's mux:
// say where the socket is mounted, and which PubSub AssertBroadcast
// listens to.
func ExampleConnect_mux() {
	runTest(func(t testing.TB) {
		srv := newChatServer(t)
		mux := http.NewServeMux()
		mux.Handle("/live/socket/", srv)

		c := channeltest.Connect(t, mux, map[string]string{"user": "ann"}, &channeltest.Options{
			Mount:      "/live/socket",
			PubSub:     srv.PubSub(),
			Serializer: protocol.V1, // a vsn=1.0.0 client
		})
		ch := c.Join("room:lobby", nil)
		ch.AssertReply(ch.Push("new_msg", map[string]string{"body": "hi"}), "ok", nil)
		ch.AssertBroadcast("new_msg", nil)
	})
	// Output:
}

// runTest runs body the way go test runs a test function, with a
// testing.TB that prints failures: an Example gets no *testing.T. In your
// own tests, pass the test's t.
func runTest(body func(t testing.TB)) {
	t := &exampleT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(t)
	}()
	<-done
	t.mu.Lock()
	cleanups := t.cleanups
	t.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

// exampleT implements the testing.TB methods the examples use; the
// embedded nil TB panics for any other.
type exampleT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (t *exampleT) Helper() {}

func (t *exampleT) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *exampleT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *exampleT) Errorf(format string, args ...any) { t.Error(fmt.Sprintf(format, args...)) }

func (t *exampleT) Error(args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	fmt.Println("--- FAIL:", fmt.Sprint(args...))
}

func (t *exampleT) Fatalf(format string, args ...any) { t.Fatal(fmt.Sprintf(format, args...)) }

func (t *exampleT) Fatal(args ...any) {
	t.Error(args...)
	runtime.Goexit()
}
