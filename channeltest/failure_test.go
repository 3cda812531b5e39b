package channeltest_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channeltest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// fast makes failing assertions quick.
var fast = &channeltest.Options{Timeout: 200 * time.Millisecond, RefuteTimeout: 50 * time.Millisecond}

// TestFailures checks what a failing assertion reports, and that it points
// at the test's line: every function between the test and t.Fatal calls
// t.Helper.
func TestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body func(t testing.TB, srv *app, line *int)
		// want are parts of the message, in order.
		want []string
	}{{
		name: "push does not match",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ch.Push("push", map[string]any{"a": 1, "b": "x", "n": map[string]any{"l": []int{1, 2}}})
			ch.Push("push", map[string]any{"a": 2})
			*line = thisLine() + 1
			ch.AssertPush("pushed", map[string]any{"a": 2, "c": true, "n": map[string]any{"l": []int{1, 3}}})
		},
		want: []string{
			`channeltest: on "room:lobby": no push "pushed" within 200ms`,
			`want: {"a":2,"c":true,"n":{"l":[1,3]}}`,
			`received on the topic and not asserted (2):`,
			`"pushed",{"a":1,"b":"x","n":{"l":[1,2]}}]`,
			`.a: got 1, want 2`,
			`.b: got "x", not wanted`,
			`.c: missing, want true`,
			`.n.l[1]: got 2, want 3`,
			`"pushed",{"a":2}]`,
			`.c: missing, want true`,
			`.n: missing, want {"l":[1,3]}`,
		},
	}, {
		name: "no reply",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", map[string]bool{"greet": true})
			ref := ch.Push("noreply", nil)
			*line = thisLine() + 1
			ch.AssertReply(ref, "ok", nil)
		},
		want: []string{
			`channeltest: on "room:lobby": no reply to push "noreply" (ref "3") within 200ms`,
			`received on the topic and not asserted (1):`,
			`"greeting",{"text":"welcome to room:lobby"}]`,
		},
	}, {
		name: "reply status",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ref := ch.Push("refuse", nil)
			*line = thisLine() + 1
			ch.AssertReply(ref, "ok", map[string]string{"reason": "yes"})
		},
		want: []string{
			`channeltest: the reply to push "refuse" (ref "3") on "room:lobby" does not match`,
			`got:  error {"reason":"no"}`,
			`want: ok {"reason":"yes"}`,
			`status: got "error", want "ok"`,
			`.reason: got "no", want "yes"`,
		},
	}, {
		name: "refuted push came",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", map[string]bool{"greet": true})
			*line = thisLine() + 1
			ch.RefutePush("greeting", nil)
		},
		want: []string{
			`channeltest: got push "greeting" on "room:lobby", want none within 50ms`,
			`"greeting",{"text":"welcome to room:lobby"}]`,
		},
	}, {
		name: "refuted reply came",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ref := ch.Push("ping", 1)
			*line = thisLine() + 1
			ch.RefuteReply(ref)
		},
		want: []string{
			`channeltest: got a reply to push "ping" (ref "3") on "room:lobby", want none within 50ms`,
			`"phx_reply",{"status":"ok","response":{"pong":1}}]`,
		},
	}, {
		name: "no broadcast",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ch.AssertReply(ch.Push("shout", map[string]string{"text": "hi"}), "ok", nil)
			*line = thisLine() + 1
			ch.AssertBroadcast("shout", map[string]string{"text": "ho"})
		},
		want: []string{
			`channeltest: on "room:lobby": no broadcast "shout" within 200ms`,
			`want: {"text":"ho"}`,
			`broadcasts on the topic not asserted (1):`,
			`"shout" {"text":"hi"}`,
			`.text: got "hi", want "ho"`,
		},
	}, {
		name: "refuted broadcast came",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ch.AssertReply(ch.Push("shout_from", map[string]string{"text": "hi"}), "ok", nil)
			*line = thisLine() + 1
			ch.RefuteBroadcast("shout", nil)
		},
		want: []string{`channeltest: got broadcast "shout" on "room:lobby", want none within 50ms`, `{"text":"hi"}`},
	}, {
		name: "join refused",
		body: func(t testing.TB, srv *app, line *int) {
			c := channeltest.Connect(t, srv, nil, fast)
			*line = thisLine() + 1
			c.Join("room:secret", map[string]bool{"refuse": true})
		},
		want: []string{`channeltest: join "room:secret" refused: status "error", response {"reason":"unauthorized"}`},
	}, {
		name: "join accepted",
		body: func(t testing.TB, srv *app, line *int) {
			c := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, fast)
			*line = thisLine() + 1
			c.AssertJoinError("room:lobby", nil, map[string]string{"reason": "unauthorized"})
		},
		want: []string{
			`channeltest: join "room:lobby": got status "ok", response {"assigns":{"token":"","user":"ann"},"welcome":"ann"}; want it refused`,
			`want: error {"reason":"unauthorized"}`,
		},
	}, {
		name: "join refused otherwise",
		body: func(t testing.TB, srv *app, line *int) {
			c := channeltest.Connect(t, srv, nil, fast)
			*line = thisLine() + 1
			c.AssertJoinError("room:x", map[string]string{"fail": "full"}, map[string]string{"reason": "unauthorized"})
		},
		want: []string{
			`channeltest: join "room:x" refused with another response`,
			`got:  {"reason":"full"}`,
			`.reason: got "full", want "unauthorized"`,
		},
	}, {
		name: "connect refused",
		body: func(t testing.TB, srv *app, line *int) {
			*line = thisLine() + 1
			channeltest.Connect(t, srv, map[string]string{"token": "busy"}, fast)
		},
		want: []string{`channeltest: connect refused with HTTP 429 Too Many Requests: "slow down"`},
	}, {
		name: "channel crashed before replying",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ref := ch.Push("boom", nil)
			*line = thisLine() + 1
			ch.AssertReply(ref, "ok", nil)
		},
		want: []string{
			`no reply to push "boom" (ref "3") within 200ms`,
			`"phx_error",{"reason":"channel_crash"}]`,
		},
	}, {
		name: "not errored",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ch.Push("stop", nil)
			*line = thisLine() + 1
			ch.AssertErrored()
		},
		want: []string{
			`channeltest: on "room:lobby": channel not errored (phx_error) within 200ms`,
			`received on the topic and not asserted (2):`,
			`"phx_reply",{"status":"ok","response":{"bye":true}}]`,
			`"phx_close",{}]`,
		},
	}, {
		name: "connection closed",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, &channeltest.Options{Timeout: time.Minute}).Join("room:lobby", nil)
			if err := srv.Disconnect(context.Background(), "user_socket:ann"); err != nil {
				t.Fatal(err)
			}
			*line = thisLine() + 1
			ch.AssertPush("never", nil) // fails once the connection has closed, not after a minute
		},
		want: []string{
			`channeltest: on "room:lobby": no push "never" within 1m0s`,
			`received on the topic and not asserted: nothing`,
			`the connection has closed: 1001 "disconnected"`,
		},
	}, {
		name: "closed with another code",
		body: func(t testing.TB, srv *app, line *int) {
			c := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, fast)
			if err := srv.Disconnect(context.Background(), "user_socket:ann"); err != nil {
				t.Fatal(err)
			}
			*line = thisLine() + 1
			c.AssertClosed(transport.CloseShutdown)
		},
		want: []string{`channeltest: the connection closed with 1001 "disconnected", want 1012 "server shutdown"`},
	}, {
		name: "still open",
		body: func(t testing.TB, srv *app, line *int) {
			c := channeltest.Connect(t, srv, nil, fast)
			*line = thisLine() + 1
			c.AssertClosed(transport.CloseStalled)
		},
		want: []string{`channeltest: the connection is still open after 200ms, want it closed with 1006 (cut without a close frame)`},
	}, {
		name: "binary differs",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ref := ch.Push("binary", protocol.Binary([]byte("abc")))
			*line = thisLine() + 1
			ch.AssertReply(ref, "ok", map[string]string{"got": "abc"})
		},
		want: []string{
			`got:  ok <7 bytes: 67 6f 74 3a 61 62 63>`,
			`got a binary payload (7 bytes), want JSON (wrap bytes in protocol.Binary to expect binary)`,
		},
	}, {
		name: "binary push on V1",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, &channeltest.Options{Serializer: protocol.V1}).Join("room:lobby", nil)
			*line = thisLine() + 1
			ch.Push("binary", protocol.Binary([]byte("abc")))
		},
		want: []string{`channeltest: push "binary" on "room:lobby": binary payloads need the V2 serializer`},
	}, {
		name: "want does not encode",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			*line = thisLine() + 1
			ch.AssertPush("x", func() {})
		},
		want: []string{`channeltest: AssertPush on "room:lobby": the wanted payload does not encode to JSON: json: unsupported type: func()`},
	}, {
		name: "presence list",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, fast).Join("room:lobby", map[string]bool{"presence": true})
			*line = thisLine() + 1
			ch.AssertPresenceList("ann", "bob")
		},
		want: []string{
			`channeltest: on "room:lobby": the presence list is not ["ann" "bob"] after 200ms: the list has ["ann"]`,
			`"presence_state",{"ann":{"metas":[{"phx_ref":`,
		},
	}, {
		name: "presence diff",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, map[string]string{"user": "ann"}, fast).Join("room:lobby", map[string]bool{"presence": true})
			*line = thisLine() + 1
			ch.AssertPresenceDiff(nil, []string{"ann"})
		},
		want: []string{
			`channeltest: on "room:lobby": no presence_diff with joins [] and leaves ["ann"] within 200ms`,
			`"presence_diff",{"joins":{"ann":`,
		},
	}, {
		name: "leave without phx_close",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ch.AssertReply(ch.Push("stop", nil), "ok", nil)
			ch.AssertClosed()
			*line = thisLine() + 1
			ch.Leave() // the server has no channel left: an ok reply, no phx_close
		},
		want: []string{
			`channeltest: on "room:lobby": channel not closed (phx_close) within 200ms`,
			`received on the topic and not asserted: nothing`,
		},
	}, {
		name: "push func",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			ch.Push("push", map[string]int{"n": 1})
			*line = thisLine() + 1
			ch.AssertPushFunc("pushed", func(p protocol.Payload) bool { return false })
		},
		want: []string{
			`channeltest: on "room:lobby": no push "pushed" accepted by the match function within 200ms`,
			`received on the topic and not asserted (1):`,
			`"pushed",{"n":1}]`,
		},
	}, {
		name: "broadcast payload not an object",
		body: func(t testing.TB, srv *app, line *int) {
			ch := channeltest.Connect(t, srv, nil, fast).Join("room:lobby", nil)
			*line = thisLine() + 1
			ch.BroadcastFrom("x", []int{1})
		},
		want: []string{`channeltest: broadcast "x" on "room:lobby": a broadcast payload must be a JSON object or binary, not [1]`},
	}, {
		name: "no pubsub",
		body: func(t testing.TB, srv *app, line *int) {
			mux := http.NewServeMux()
			mux.Handle("/socket/", srv)
			ch := channeltest.Connect(t, mux, nil, fast).Join("room:lobby", nil)
			*line = thisLine() + 1
			ch.AssertBroadcast("x", nil)
		},
		want: []string{`channeltest: AssertBroadcast on "room:lobby" needs the server's PubSub: connect to a *socket.Server, or set Options.PubSub`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newApp(t)
			var line int
			msg, where := failure(t, func(tb testing.TB) { tt.body(tb, srv, &line) })
			if msg == "" {
				t.Fatal("the assertion did not fail")
			}
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("the failure lacks %q (or has it out of order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			if wantWhere := "failure_test.go:" + itoa(line); where != wantWhere {
				t.Errorf("the failure points at %s, want %s:\n%s", where, wantWhere, msg)
			}
		})
	}
}

// A test that fails on a closed connection fails at once, not after its
// timeout.
func TestFailFastOnClose(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	start := time.Now()
	msg, _ := failure(t, func(tb testing.TB) {
		ch := channeltest.Connect(tb, srv, map[string]string{"user": "ann"}, &channeltest.Options{Timeout: time.Minute}).Join("room:lobby", nil)
		if err := srv.Disconnect(context.Background(), "user_socket:ann"); err != nil {
			tb.Fatal(err)
		}
		ch.AssertReply(ch.Push("ping", nil), "ok", nil)
	})
	if msg == "" || time.Since(start) > 10*time.Second {
		t.Fatalf("failed after %v: %s", time.Since(start), msg)
	}
}

// thisLine is the caller's line.
func thisLine() int {
	_, _, line, _ := runtime.Caller(1)
	return line
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
