// Package socket is the Phoenix socket endpoint: the [http.Handler] that
// phoenix.js connects to, where a Phoenix application has
// `socket "/socket", UserSocket`. It does the handshake (origin,
// subprotocols, serializer version, the application's Connect), runs each
// connection, routes the topics that clients join to channel handlers
// (package channel), and shuts down cleanly.
//
// # Where to start
//
// [New] makes a [Server] from [Options]; a nil *Options works and gives
// anonymous sockets with Phoenix's defaults. Route topics to handlers with
// [Server.Channel] ("room:*" → a new handler per join), then mount the
// server on your own mux under the socket's path:
//
//	srv, err := socket.New(nil)
//	...
//	srv.Channel("room:*", func() channel.Handler { return &Room{} })
//	mux.Handle("/socket/", srv) // phoenix.js: new Socket("/socket")
//
// The server answers GET requests for any path ending in /websocket and,
// with [Options.LongPoll], the long-poll transport at any path ending in
// /longpoll; other paths get 404. It never opens a listener of its own. From the rest of
// the application, [Server.Broadcast] and [Server.LocalBroadcast] send to
// every client of a topic, [Server.Disconnect] closes the connections of a
// socket id, and [Server.Shutdown] ends everything.
//
// # Connecting
//
// A WebSocket request goes through Phoenix's steps, in Phoenix's order:
//
//  1. a method other than GET: 400;
//  2. the origin check ([Options.CheckOrigin]): 403;
//  3. with [Options.AuthToken], phoenix.js's authToken is taken out of
//     Sec-WebSocket-Protocol;
//  4. the subprotocol check ([Options.Subprotocols]): 403;
//  5. after Shutdown: 503; the vsn parameter picks the serializer
//     (missing: 1.0.0; neither 1.0.x nor 2.0.x: 403), then
//     [Options.Connect] and [Options.ID] run;
//     [ErrRefused] answers 403, another error goes to
//     [Options.ErrorHandler];
//  6. a request without "Connection: upgrade": 400;
//  7. with a socket id, the subscription of its topic, and a wait until
//     it is ready on every node ([pubsub.Subscription.Ready]: one broker
//     round trip the first time an id is seen on a node, at most 2 s), so
//     that a connected client can be disconnected from any node;
//  8. the upgrade.
//
// Connect therefore runs for a plain GET too, as in Phoenix.
//
// # Long-poll
//
// With [Options.LongPoll] set, <mount>/longpoll serves Phoenix's long-poll
// transport (docs/longpoll.md and docs/protocol.md in the repository): a
// GET without a valid session token runs the origin check, vsn and
// Connect as above and opens a session (JSON status 410 with a signed
// token; 403 when refused); a GET with the token polls; a POST publishes.
// A session is a connection like a WebSocket's: the same channels, ids,
// broadcasts and close reasons apply, plus [transport.CloseInactive] when
// no poll has come for 1.5 windows. A request that reaches a Server other than the session's
// (another node behind a load balancer) is carried to it through the
// [pubsub.PubSub]; without a PubSub spanning the nodes, a load balancer
// needs sticky sessions.
//
// # Concurrency
//
// [Server] methods are safe for concurrent use, except that every
// [Server.Channel] call must come before the server serves its first
// request.
//
// [Options.Connect], [Options.ID] and [Options.ErrorHandler] run in the
// request's goroutine, before the upgrade. After it, each connection has
// a reader goroutine that handles the client's frames one at a time, in
// order. It answers heartbeats and runs [channel.Handler.Join]
// synchronously: the connection reads nothing else until Join returns and
// the join reply is queued. The reply waits for the channel's
// subscription to be ready on every node (one broker round trip on the
// first join of a topic on a node, at most 2 s; nothing while the broker
// is known down), so a client that has its reply gets every later
// broadcast, from any node; broadcasts made on the node meanwhile follow
// the reply, in order, and never wait for the join.
// Everything else a channel does runs in the channel's own goroutine
// (see package channel). A frame for the client is written by its sender
// with one non-blocking write when nothing waits on the connection, and
// otherwise queued and written in order by a writer goroutine that runs
// while frames wait; nothing that sends a frame waits for the network. A client that does not read fast
// enough for its queue (transport.WebSocketOptions.QueueBytes) is cut, and
// so is one that takes no data at all for the stall timeout
// (transport.WebSocketOptions.StallTimeout).
//
// No Server lock is held while application code runs. docs/lock-order.md
// in the repository records which locks nest.
//
// # Closing
//
// A connection ends when the client closes it or on one of the named
// reasons of package transport: [transport.CloseDisconnect] (1001, from
// [Server.Disconnect]), [transport.CloseShutdown] (1012, from
// [Server.Shutdown]), [transport.CloseIdle] (1000, nothing received for
// transport.WebSocketOptions.IdleTimeout), [transport.CloseDecodeError]
// (1011, a frame that is not a Phoenix message),
// [transport.CloseInvalidUTF8] (1007), [transport.CloseSlowConsumer] and
// [transport.CloseStalled]. Then each of its channels stops, after the
// messages already in its mailbox, and its Terminate runs with
// [channel.ErrDisconnected], [channel.ErrShutdown] or [channel.ErrClosed].
// [Server.Shutdown] waits for all of this, and for every goroutine the
// Server started.
package socket
