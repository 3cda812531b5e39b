package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestChatBroadcastsMessages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>chat</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "phoenix.mjs")
	if err := os.WriteFile(js, []byte("export {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	chat, err := NewChat(slog.New(slog.DiscardHandler), dir, js)
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
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket/websocket?user=alice&vsn=2.0.0"
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

	_, resp, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/socket/websocket?vsn=2.0.0", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("connect without a name: err %v, resp %v; want 403", err, resp)
	}
}
