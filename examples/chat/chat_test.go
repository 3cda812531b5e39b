package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/channeltest"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/token"
)

// testSecret signs the tests' user tokens.
var testSecret = []byte("a test secret of more than twenty bytes")

// userToken signs name as the chat's /token does.
func userToken(t *testing.T, name string) string {
	t.Helper()
	tok, err := token.Sign(testSecret, tokenSalt, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newPubSub is the chat's PubSub of one node; the chat's Shutdown closes it.
func newPubSub(t *testing.T) *pubsub.PubSub {
	t.Helper()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestChatBroadcastsMessages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>chat</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "phoenix.mjs")
	if err := os.WriteFile(js, []byte("export {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	chat, err := NewChat(newPubSub(t), slog.New(slog.DiscardHandler), testSecret, dir, js)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(chat)
	defer srv.Close()
	defer chat.Shutdown(context.Background())

	resp, err := http.Get(srv.URL + "/vendor/phoenix.mjs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("phoenix.mjs: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The page's way in: a token for the name from /token.
	resp, err = http.PostForm(srv.URL+"/token", map[string][]string{"name": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok.Token == "" {
		t.Fatalf("/token: %d %v %+v", resp.StatusCode, err, tok)
	}
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket/websocket?vsn=2.0.0&token=" + tok.Token
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(s string) {
		if err := ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	send(`["1","1","room:lobby","phx_join",{}]`)
	if got, want := read(), `["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]`; got != want {
		t.Fatalf("join: got %s, want %s", got, want)
	}
	// Who is online: the state (alice herself), then the diff of her join.
	var state presences
	payloadOf(t, read(), `["1",null,"room:lobby","presence_state",`, &state)
	if len(state) != 1 || len(state["alice"].Metas) != 1 || state["alice"].Metas[0]["phx_ref"] == nil {
		t.Fatalf("presence_state: %+v", state)
	}
	var diff struct{ Joins, Leaves presences }
	payloadOf(t, read(), `[null,null,"room:lobby","presence_diff",`, &diff)
	if len(diff.Joins["alice"].Metas) != 1 || len(diff.Leaves) != 0 {
		t.Fatalf("presence_diff: %+v", diff)
	}
	send(`["1","2","room:lobby","new_msg",{"body":"hi"}]`)
	got := []string{read(), read()}
	want := []string{
		`[null,null,"room:lobby","new_msg",{"body":"hi","user":"alice"}]`,
		`["1","2","room:lobby","phx_reply",{"status":"ok","response":{}}]`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frame %d: got %s, want %s", i, got[i], want[i])
		}
	}

	// No token, a name in place of one, a token signed with another
	// secret: each is refused with 403.
	other, err := token.Sign([]byte("another secret of twenty bytes or more"), tokenSalt, "mallory", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"", "&user=mallory", "&token=" + other} {
		_, resp, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/socket/websocket?vsn=2.0.0"+query, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("connect with %q: err %v, resp %v; want 403", query, err, resp)
		}
	}
	resp, err = http.PostForm(srv.URL+"/token", map[string][]string{"name": {strings.Repeat("x", 33)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("/token for a 33-character name: %d, want 400", resp.StatusCode)
	}
}

type presences map[string]struct {
	Metas []map[string]any `json:"metas"`
}

// payloadOf checks that frame starts with prefix and decodes its payload
// (the frame's last element) into v.
func payloadOf(t *testing.T, frame, prefix string, v any) {
	t.Helper()
	if !strings.HasPrefix(frame, prefix) || !strings.HasSuffix(frame, "]") {
		t.Fatalf("got %s, want a frame starting with %s", frame, prefix)
	}
	if err := json.Unmarshal([]byte(frame[len(prefix):len(frame)-1]), v); err != nil {
		t.Fatalf("payload of %s: %v", frame, err)
	}
}

func TestChatShowsWhoIsOnline(t *testing.T) {
	dir := t.TempDir()
	chat, err := NewChat(newPubSub(t), slog.New(slog.DiscardHandler), testSecret, dir, filepath.Join(dir, "phoenix.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(chat)
	defer srv.Close()
	defer chat.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	dial := func(user string) (*websocket.Conn, func() string) {
		url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket/websocket?vsn=2.0.0&token=" + userToken(t, user)
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte(`["1","1","room:lobby","phx_join",{}]`)); err != nil {
			t.Fatal(err)
		}
		return ws, func() string {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	alice, readAlice := dial("alice")
	defer alice.CloseNow()
	readAlice() // join reply
	readAlice() // presence_state
	readAlice() // her own join
	bob, readBob := dial("bob")
	readBob()
	var state presences
	payloadOf(t, readBob(), `["1",null,"room:lobby","presence_state",`, &state)
	if len(state) != 2 || state["alice"].Metas == nil || state["bob"].Metas == nil {
		t.Fatalf("bob's presence_state: %+v", state)
	}
	var diff struct{ Joins, Leaves presences }
	payloadOf(t, readAlice(), `[null,null,"room:lobby","presence_diff",`, &diff)
	if len(diff.Joins["bob"].Metas) != 1 {
		t.Fatalf("alice saw %+v, want bob's join", diff)
	}
	bob.CloseNow()
	diff.Joins, diff.Leaves = nil, nil
	payloadOf(t, readAlice(), `[null,null,"room:lobby","presence_diff",`, &diff)
	if len(diff.Leaves["bob"].Metas) != 1 || len(diff.Joins) != 0 {
		t.Fatalf("alice saw %+v, want bob's leave", diff)
	}
}

// The room's rules, tested as a Phoenix app tests its channels with
// Phoenix.ChannelTest: channeltest connects with a signed token, joins,
// pushes and asserts on replies, pushes, broadcasts and presence.
func TestRoomRules(t *testing.T) {
	dir := t.TempDir()
	ps := newPubSub(t)
	chat, err := NewChat(ps, slog.New(slog.DiscardHandler), testSecret, dir, filepath.Join(dir, "phoenix.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// Registered before Connect, so it runs after the clients have closed.
	t.Cleanup(func() {
		if err := chat.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	opts := &channeltest.Options{PubSub: ps}
	ann := channeltest.Connect(t, chat, map[string]string{"token": userToken(t, "ann")}, opts)
	lobby := ann.Join("room:lobby", nil)
	lobby.AssertPresenceState("ann")

	ref := lobby.Push("new_msg", map[string]string{"body": "hi"})
	lobby.AssertReply(ref, "ok", nil)
	lobby.AssertBroadcast("new_msg", map[string]string{"user": "ann", "body": "hi"})
	lobby.AssertPush("new_msg", map[string]string{"user": "ann", "body": "hi"})

	// The name comes from the token, never from the payload.
	ref = lobby.Push("new_msg", map[string]string{"body": "it's me", "user": "bob"})
	lobby.AssertReply(ref, "ok", nil)
	lobby.AssertBroadcast("new_msg", map[string]string{"user": "ann", "body": "it's me"})
	lobby.AssertPush("new_msg", map[string]string{"user": "ann", "body": "it's me"})

	for _, tc := range []struct {
		event, body, reason string
	}{
		{"new_msg", "  ", "empty message"},
		{"new_msg", strings.Repeat("é", 2001), "message too long"},
		{"edit_msg", "hi", "unknown event"},
	} {
		ref := lobby.Push(tc.event, map[string]string{"body": tc.body})
		lobby.AssertReply(ref, "error", map[string]string{"reason": tc.reason})
		lobby.RefuteBroadcast(tc.event, nil)
	}

	// A second user sees both, and ann sees bob come and go.
	bob := channeltest.Connect(t, chat, map[string]string{"token": userToken(t, "bob")}, opts)
	bob.Join("room:lobby", nil).AssertPresenceState("ann", "bob")
	lobby.AssertPresenceDiff([]string{"bob"}, nil)
	bob.Close()
	lobby.AssertPresenceDiff(nil, []string{"bob"})
}
