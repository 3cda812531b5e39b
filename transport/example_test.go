package transport_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

// An origin list follows Phoenix's check_origin rules: an entry with a
// scheme also fixes the port (the scheme's default when none is written),
// "//host" allows any scheme and port, and "*." allows the domain and its
// subdomains. A request without an Origin header (not a browser) passes.
// A refused origin gets 403 before anything else runs; an allowed one here
// goes on to the upgrade check, which a plain GET fails with 400.
func ExampleOriginPolicy() {
	srv, err := socket.New(&socket.Options{
		CheckOrigin: transport.OriginPolicy{Origins: []string{"https://example.com", "//*.example.org"}},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for _, origin := range []string{
		"https://example.com",
		"https://example.com:8443",
		"http://example.com",
		"http://chat.example.org:8080",
		"https://evil-example.org",
		"null",
		"",
	} {
		r := httptest.NewRequest("GET", "http://app.internal/socket/websocket", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		fmt.Printf("%-30q %d\n", origin, w.Code)
	}
	// Output:
	// "https://example.com"          400
	// "https://example.com:8443"     403
	// "http://example.com"           403
	// "http://chat.example.org:8080" 400
	// "https://evil-example.org"     403
	// "null"                         403
	// ""                             400
}

// A WebSocket from which nothing arrives for IdleTimeout is closed with
// CloseIdle: code 1000 and the reason "idle timeout". phoenix.js's
// heartbeat, every 30 s, keeps a live client well inside the default 60 s.
func ExampleWebSocketOptions() {
	srv, err := socket.New(&socket.Options{
		WebSocket: &transport.WebSocketOptions{IdleTimeout: 50 * time.Millisecond},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket/websocket?vsn=2.0.0"
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println(int(ce.Code) == transport.CloseIdle.Code, ce.Reason)
	}
	// Output:
	// true idle timeout
}

// The named close reasons, as logs and docs use them. Those that cut a
// client that does not read send no close frame: the client would not
// read it.
func ExampleCloseReason() {
	for _, r := range []transport.CloseReason{
		transport.CloseDisconnect, transport.CloseShutdown, transport.CloseIdle,
		transport.CloseDecodeError, transport.CloseInvalidUTF8,
		transport.CloseSlowConsumer, transport.CloseStalled,
	} {
		fmt.Println(r.Code, r)
	}
	// Output:
	// 1001 disconnected
	// 1012 server shutdown
	// 1000 idle timeout
	// 1011 invalid message
	// 1007 invalid utf-8
	// 1008 slow consumer
	// 1008 stalled
}
