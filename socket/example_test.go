package socket_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/token"
	"github.com/pyrehq/pyre/transport"
)

// Room is the channel handler of these examples: it accepts every join,
// answers the push "ping" with "pong" and broadcasts "shout" to the topic.
type Room struct{}

func (*Room) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (*Room) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "ping":
		return in.Reply("ok", map[string]string{"pong": s.Topic()})
	case "shout":
		return s.Broadcast(ctx, "shout", in.Payload)
	}
	return in.Reply("error", map[string]string{"reason": "unknown event"})
}

// A server with authentication, a socket id and an origin policy, mounted
// at /socket on the application's own mux. phoenix.js connects with
// new Socket("/socket", {params: {token: "..."}}).
func ExampleNew() {
	srv, err := socket.New(&socket.Options{
		// Connect runs once per connection, before the WebSocket upgrade.
		// Its assigns are copied into every channel of the connection.
		Connect: func(ctx context.Context, params socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
			userID, ok := verifyToken(params.Get("token"))
			if !ok {
				return nil, socket.ErrRefused // HTTP 403
			}
			return map[string]any{"user_id": userID}, nil
		},
		// ID names the connection, so that Server.Disconnect can close it.
		ID: func(assigns map[string]any) string {
			return "user_socket:" + assigns["user_id"].(string)
		},
		CheckOrigin: transport.OriginPolicy{Origins: []string{"https://example.com"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv.Channel("room:*", func() channel.Handler { return &Room{} })

	mux := http.NewServeMux()
	mux.Handle("/socket/", srv) // serves /socket/websocket
	log.Fatal(http.ListenAndServe("localhost:4000", mux))
}

func verifyToken(token string) (userID string, ok bool) { return "42", token == "secret" }

// Routes are tried in the order they were added; a pattern ending in "*"
// matches any suffix. A join that no route matches is answered with
// "unmatched topic".
func ExampleServer_Channel() {
	// The unmatched join below is logged as a warning; keep it quiet here.
	srv, _ := socket.New(&socket.Options{Logger: slog.New(slog.DiscardHandler)})
	srv.Channel("room:*", func() channel.Handler { return &Room{} })
	srv.Channel("lobby", func() channel.Handler { return &Room{} })

	c, stop := exServe(srv, "")
	defer stop()
	c.send(`["1","1","room:42","phx_join",{}]`)
	c.print()
	c.send(`["2","2","lobby","phx_join",{}]`)
	c.print()
	c.send(`["3","3","lobby:1","phx_join",{}]`)
	c.print()
	c.send(`["1","4","room:42","ping",{}]`)
	c.print()
	// Output:
	// ["1","1","room:42","phx_reply",{"status":"ok","response":{}}]
	// ["2","2","lobby","phx_reply",{"status":"ok","response":{}}]
	// [null,"3","lobby:1","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]
	// ["1","4","room:42","phx_reply",{"status":"ok","response":{"pong":"room:42"}}]
}

// Server.Broadcast is Phoenix's Endpoint.broadcast: it reaches every client
// that joined the topic. Events the channel does not intercept are encoded
// once per serializer and sent as [null, null, topic, event, payload].
func ExampleServer_Broadcast() {
	srv, _ := socket.New(nil)
	srv.Channel("room:*", func() channel.Handler { return &Room{} })

	c, stop := exServe(srv, "")
	defer stop()
	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()

	err := srv.Broadcast(context.Background(), "room:lobby", "new_msg", map[string]string{"body": "hello"})
	if err != nil {
		log.Fatal(err)
	}
	c.print()

	// A broadcast payload must be a JSON object (or binary).
	err = srv.Broadcast(context.Background(), "room:lobby", "new_msg", "hello")
	fmt.Println(errors.Is(err, protocol.ErrPayloadNotObject))
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// [null,null,"room:lobby","new_msg",{"body":"hello"}]
	// true
}

// Server.Disconnect closes every connection whose socket id is the given
// one, as Phoenix's "disconnect" broadcast on the id does. phoenix.js
// reconnects after the 1001 close, and Connect may refuse it then.
func ExampleServer_Disconnect() {
	srv, _ := socket.New(&socket.Options{
		Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			return map[string]any{"user_id": p.Get("user_id")}, nil
		},
		ID: func(assigns map[string]any) string { return "user_socket:" + assigns["user_id"].(string) },
	})
	srv.Channel("room:*", func() channel.Handler { return &Room{} })

	c, stop := exServe(srv, "&user_id=42")
	defer stop()
	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()

	if err := srv.Disconnect(context.Background(), "user_socket:42"); err != nil {
		log.Fatal(err)
	}
	c.print()
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// closed: 1001 "disconnected"
}

// ShutdownRoom records why its channel ended.
type ShutdownRoom struct {
	Room
	reasons chan<- error
}

func (r *ShutdownRoom) Terminate(_ context.Context, _ *channel.Socket, reason error) {
	r.reasons <- reason
}

// Shutdown closes every connection with 1012 (phoenix.js reconnects, to
// another node in a cluster), runs each channel's Terminate with
// channel.ErrShutdown and waits for them. http.Server.Shutdown does not do
// this: it does not see connections that were upgraded to WebSockets.
func ExampleServer_Shutdown() {
	reasons := make(chan error, 1)
	srv, _ := socket.New(nil)
	srv.Channel("room:*", func() channel.Handler { return &ShutdownRoom{reasons: reasons} })

	c, stop := exServe(srv, "")
	defer stop()
	c.send(`["1","1","room:lobby","phx_join",{}]`)
	c.print()

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	c.print() // The client answers the close frame, which ends the connection.
	fmt.Println("shutdown:", <-done)
	fmt.Println("terminate:", <-reasons)
	// Output:
	// ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
	// closed: 1012 "server shutdown"
	// shutdown: <nil>
	// terminate: channel: server shutdown: channel: stop
}

// In a program, shut the socket server down before the http.Server:
// http.Server.Shutdown waits for active requests, and an upgraded
// WebSocket is not one it tracks.
func ExampleServer_Shutdown_signal() {
	srv, err := socket.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	srv.Channel("room:*", func() channel.Handler { return &Room{} })
	mux := http.NewServeMux()
	mux.Handle("/socket/", srv)
	httpSrv := &http.Server{Addr: "localhost:4000", Handler: mux}

	go func() {
		if err := httpSrv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	<-sigs

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Print(err) // wraps context.DeadlineExceeded when ctx expired
	}
	if err := httpSrv.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}

// ParseParams reads connect params the way Plug does; phoenix.js sends
// nested params objects in this form and appends vsn.
func ExampleParseParams() {
	p := socket.ParseParams("token=abc&user[name]=ann&user[lang]=go&tags[]=a&tags[]=b&vsn=2.0.0")
	fmt.Println(p.Get("token"), p.Get("vsn"))
	fmt.Println(p["user"])
	fmt.Println(p["tags"])
	fmt.Printf("%q\n", p.Get("user")) // not a string
	// Output:
	// abc 2.0.0
	// map[lang:go name:ann]
	// [a b]
	// ""
}

// With Options.AuthToken, phoenix.js 1.8's authToken option
// (new Socket("/socket", {authToken: "..."})) reaches Connect in
// ConnectInfo.AuthToken, and the handshake answers with the "phoenix"
// subprotocol that browsers require once they offered one.
func Example_authToken() {
	srv, _ := socket.New(&socket.Options{
		AuthToken: true,
		Connect: func(_ context.Context, _ socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
			fmt.Printf("token %q\n", info.AuthToken)
			return nil, nil
		},
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// What phoenix.js sends: "phoenix" and the token in base64 without "=".
	token := "base64url.bearer.phx." + strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("s3cret")), "=")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, exURL(ts.URL, ""), &websocket.DialOptions{
		Subprotocols: []string{"phoenix", token},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subprotocol", ws.Subprotocol())
	ws.Close(websocket.StatusNormalClosure, "")
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// token "s3cret"
	// subprotocol phoenix
}

// Connect verifies a Phoenix.Token, as a Phoenix UserSocket's connect/3
// does with Phoenix.Token.verify(socket, "user socket", token, max_age:
// 86400): the page got the token from the server that rendered it (a Go
// handler, or a Phoenix app sharing the secret_key_base), and the user id
// in it is assigned to the connection. A missing, forged or expired token
// is refused with 403.
func ExampleOptions_phoenixToken() {
	secretKeyBase := []byte("the secret_key_base shared with the Phoenix app, 64 bytes or so..")
	signer, err := token.NewSigner(secretKeyBase, "user socket", nil)
	if err != nil {
		log.Fatal(err)
	}
	srv, _ := socket.New(&socket.Options{
		Connect: func(_ context.Context, params socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			userID, err := signer.Verify(params.Get("token"), &token.VerifyOptions{MaxAge: 24 * time.Hour})
			if err != nil {
				return nil, socket.ErrRefused
			}
			return map[string]any{"user_id": userID}, nil
		},
	})
	srv.Channel("room:*", func() channel.Handler { return &Room{} })
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// What the page renders for user 42 (Phoenix.Token.sign(conn, "user socket", 42)).
	tok, err := signer.Sign(42, nil)
	if err != nil {
		log.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx, exURL(ts.URL, "&token="+tok), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed token: connected")
	ws.Close(websocket.StatusNormalClosure, "")

	_, resp, err := websocket.Dial(ctx, exURL(ts.URL, "&token=SFMyNTY.forged.token"), nil)
	fmt.Println("forged token:", err != nil, resp.StatusCode)
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// signed token: connected
	// forged token: true 403
}

// exClient is a bare Phoenix V2 wire client for these examples: it sends
// raw frames and prints what it reads. Applications use phoenix.js.
type exClient struct{ ws *websocket.Conn }

// exServe serves srv on a test server and connects a client to
// /socket/websocket?vsn=2.0.0 plus query. stop closes the client, shuts
// srv down and closes the test server.
func exServe(srv *socket.Server, query string) (*exClient, func()) {
	mux := http.NewServeMux()
	mux.Handle("/socket/", srv)
	ts := httptest.NewServer(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, exURL(ts.URL, query), nil)
	if err != nil {
		log.Fatal(err)
	}
	return &exClient{ws}, func() {
		ws.Close(websocket.StatusNormalClosure, "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Fatal(err)
		}
		ts.Close()
	}
}

func exURL(serverURL, query string) string {
	return "ws" + strings.TrimPrefix(serverURL, "http") + "/socket/websocket?vsn=2.0.0" + query
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

// pollAnswer is the JSON body of a long-poll answer.
type pollAnswer struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

// longPollRequest is one request of phoenix.js's LongPoll to the socket
// mounted at base+"/socket": a poll (GET) or an ndjson publish (POST).
func longPollRequest(base, method, token, body string) pollAnswer {
	req, _ := http.NewRequest(method, base+"/socket/longpoll?vsn=2.0.0&token="+token, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var a pollAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		log.Fatal(err)
	}
	return a
}

// Long-poll, Phoenix's fallback transport: with Options.LongPoll set, the
// same server answers <mount>/longpoll. This is the exchange phoenix.js's
// LongPoll transport has with it: a GET opens a session (status 410 and a
// token), POSTs carry the client's messages as ndjson, and each GET takes
// what the server has for the client.
func ExampleServer_longPoll() {
	srv, err := socket.New(&socket.Options{
		LongPoll: &transport.LongPollOptions{Secret: []byte("the same on every node")},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv.Channel("room:*", func() channel.Handler { return &Room{} })
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	open := longPollRequest(ts.URL, "GET", "", "")
	fmt.Println("open:", open.Status)
	sent := longPollRequest(ts.URL, "POST", open.Token, `["1","1","room:42","phx_join",{}]`+"\n"+`["1","2","room:42","ping",{}]`)
	fmt.Println("publish:", sent.Status)
	// The ping's reply may come a poll later: the channel handles pushes
	// in its own goroutine.
	var msgs []string
	for len(msgs) < 2 {
		got := longPollRequest(ts.URL, "GET", open.Token, "")
		if got.Status != 200 {
			log.Fatalf("poll: status %d", got.Status)
		}
		msgs = append(msgs, got.Messages...)
	}
	for _, m := range msgs {
		fmt.Println(m)
	}
	// Output:
	// open: 410
	// publish: 200
	// ["1","1","room:42","phx_reply",{"status":"ok","response":{}}]
	// ["1","2","room:42","phx_reply",{"status":"ok","response":{"pong":"room:42"}}]
}

// Two nodes behind a load balancer without sticky sessions: a session
// opened on one node is used through the other, each request carried to
// the node that holds the session through the PubSub (here a
// pubsub.Cluster of two in-process nodes; a network PubSub works alike).
// Every node signs with the same Secret.
func ExampleServer_longPollAcrossNodes() {
	cluster := pubsub.NewCluster()
	var urls []string
	for _, node := range []string{"a", "b"} {
		ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: node, Adapter: cluster.Adapter()})
		if err != nil {
			log.Fatal(err)
		}
		defer ps.Close(context.Background())
		srv, err := socket.New(&socket.Options{
			PubSub:   ps,
			LongPoll: &transport.LongPollOptions{Secret: []byte("the same on every node")},
		})
		if err != nil {
			log.Fatal(err)
		}
		srv.Channel("room:*", func() channel.Handler { return &Room{} })
		ts := httptest.NewServer(srv)
		defer ts.Close()
		defer srv.Shutdown(context.Background())
		urls = append(urls, ts.URL)
	}

	open := longPollRequest(urls[0], "GET", "", "")
	fmt.Println("open on a:", open.Status)
	sent := longPollRequest(urls[1], "POST", open.Token, `["1","1","room:42","phx_join",{}]`)
	fmt.Println("join through b:", sent.Status)
	got := longPollRequest(urls[1], "GET", open.Token, "")
	fmt.Println("poll through b:", got.Status, got.Messages)
	// Output:
	// open on a: 410
	// join through b: 200
	// poll through b: 200 [["1","1","room:42","phx_reply",{"status":"ok","response":{}}]]
}

// errTooMany is what Connect returns for a client address over its rate.
var errTooMany = errors.New("too many connections from this address")

// A connect-rate limit per client address: Connect refuses with an error
// of the application's, and ErrorHandler turns it into 429, as a Phoenix
// app does with its error_handler. (Options.Limits bounds what each
// connection sends once connected.)
func ExampleOptions_connectRateLimit() {
	var mu sync.Mutex
	seen := map[string]int{} // connections per address; a real app decays it
	srv, err := socket.New(&socket.Options{
		Connect: func(_ context.Context, _ socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
			mu.Lock()
			defer mu.Unlock()
			seen[info.PeerAddress]++
			if seen[info.PeerAddress] > 2 {
				return nil, errTooMany
			}
			return nil, nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, errTooMany) {
				w.Header().Set("Retry-After", "10")
				http.Error(w, err.Error(), http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusForbidden)
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for range 3 {
		r := httptest.NewRequest("GET", "http://example.com/socket/websocket?vsn=2.0.0", nil)
		r.RemoteAddr = "203.0.113.7:50000"
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		fmt.Println(w.Code) // A plain GET: 400 once Connect accepts (no upgrade), 429 when refused.
	}
	// Output:
	// 400
	// 400
	// 429
}
