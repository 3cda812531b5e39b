package transport_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// An origin list follows Phoenix's check_origin rules: an entry with a
// scheme also fixes the port (the scheme's default when none is written),
// "//host" allows any scheme and port, and "*." allows the domain and its
// subdomains. A request without an Origin header (not a browser) passes.
func ExampleOriginChecker() {
	c, err := transport.NewOriginChecker(transport.OriginPolicy{
		Origins: []string{"https://example.com", "//*.example.org"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, origin := range []string{
		"https://example.com",
		"https://example.com:443",
		"https://example.com:8443",
		"http://example.com",
		"http://chat.example.org:8080",
		"https://example.org",
		"https://evil-example.org",
		"null",
		"",
	} {
		r := httptest.NewRequest("GET", "http://app.internal/socket/websocket", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		fmt.Printf("%-30q %v\n", origin, c.Allow(r))
	}
	// Output:
	// "https://example.com"          true
	// "https://example.com:443"      true
	// "https://example.com:8443"     false
	// "http://example.com"           false
	// "http://chat.example.org:8080" true
	// "https://example.org"          true
	// "https://evil-example.org"     false
	// "null"                         false
	// ""                             true
}

// The zero OriginPolicy compares the Origin's host, and only the host, with
// the host the request was sent to.
func ExampleOriginPolicy() {
	c, _ := transport.NewOriginChecker(transport.OriginPolicy{})
	for _, origin := range []string{"http://localhost:3000", "https://localhost", "http://127.0.0.1:4000"} {
		r := httptest.NewRequest("GET", "http://localhost:4000/socket/websocket", nil)
		r.Header.Set("Origin", origin)
		fmt.Println(origin, c.Allow(r))
	}
	// Output:
	// http://localhost:3000 true
	// https://localhost true
	// http://127.0.0.1:4000 false
}

// phoenix.js 1.8 sends its authToken as a second subprotocol beside
// "phoenix". ExtractAuthToken takes it out of the header, so that the
// subprotocol check sees only "phoenix".
func ExampleExtractAuthToken() {
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "phoenix, base64url.bearer.phx.czNjcmV0")
	token, ok := transport.ExtractAuthToken(h)
	fmt.Printf("%q %v\n", token, ok)
	fmt.Printf("%q\n", h.Get("Sec-WebSocket-Protocol"))

	proto, ok := transport.SelectSubprotocol(h, []string{transport.PhoenixSubprotocol})
	fmt.Printf("%q %v\n", proto, ok)
	// Output:
	// "s3cret" true
	// "phoenix"
	// "phoenix" true
}

// SelectSubprotocol picks the first allowed subprotocol the client offered.
func ExampleSelectSubprotocol() {
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "mqtt, sip")
	fmt.Println(transport.SelectSubprotocol(h, []string{"sip", "mqtt"}))
	fmt.Println(transport.SelectSubprotocol(h, []string{"xmpp"}))
	fmt.Println(transport.SelectSubprotocol(http.Header{}, []string{"xmpp"}))
	// Output:
	// sip true
	//  false
	//  true
}

// The transport on its own: a WebSocket whose inbound messages go to a
// Handler and whose outbound frames go through a bounded queue. The socket
// package builds Phoenix connections on it; this echo server shows the
// contract.
func ExampleAcceptWebSocket() {
	ended := make(chan transport.CloseReason, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := transport.AcceptWebSocket(w, r, &transport.WebSocketOptions{QueueBytes: 64 << 10})
		if err != nil {
			return // AcceptWebSocket has answered the request
		}
		// Run reads in this goroutine until the connection ends. Send
		// never blocks; it may be called from any goroutine.
		ended <- ws.Run(func(data []byte, binary bool) *transport.CloseReason {
			if string(data) == "quit" {
				return &transport.CloseNormal // close with 1000 "closed"
			}
			ws.Send(protocol.Frame{Data: data, Binary: binary})
			return nil
		})
	}))
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte("hello"))
	_, data, _ := c.Read(ctx)
	fmt.Printf("echo: %s\n", data)

	_ = c.Write(ctx, websocket.MessageText, []byte("quit"))
	_, _, err = c.Read(ctx)
	fmt.Println("client:", websocket.CloseStatus(err))
	fmt.Println("server:", (<-ended).Reason)
	// Output:
	// echo: hello
	// client: StatusNormalClosure
	// server: closed
}
