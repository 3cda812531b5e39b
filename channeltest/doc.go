// Package channeltest tests Pyre channels the way Phoenix.ChannelTest
// tests Phoenix channels: a test connects a client to its own
// *socket.Server, joins topics, pushes events and asserts on the replies,
// pushes and broadcasts that come back, each assertion waiting up to a
// timeout and failing with the test's line and what did arrive.
//
//	func TestRoom(t *testing.T) {
//		srv := newServer(t) // the application's socket.Server
//		c := channeltest.Connect(t, srv, map[string]string{"token": "ann"}, nil)
//		ch := c.Join("room:lobby", nil)
//
//		ref := ch.Push("new_msg", map[string]string{"body": "hi"})
//		ch.AssertReply(ref, "ok", nil)
//		ch.AssertBroadcast("new_msg", map[string]string{"user": "ann", "body": "hi"})
//		ch.AssertPush("new_msg", map[string]string{"user": "ann", "body": "hi"})
//	}
//
// # Where to start
//
// [Connect] starts the handler on an httptest.Server and connects a
// WebSocket client to it; [TryConnect] tests a refused connection.
// [Client.Join] joins a topic and returns a [Channel], and
// [Client.AssertJoinError] tests a refused join. [Channel.Push] sends an
// event; [Channel.AssertReply], [Channel.AssertPush] and
// [Channel.AssertBroadcast] check what came back, and their Refute
// counterparts check that something did not come. [Channel.Leave],
// [Channel.AssertClosed], [Channel.AssertErrored], [Client.Close] and
// [Client.AssertClosed] cover the ends of channels and connections, and
// [Channel.AssertPresenceState], [Channel.AssertPresenceDiff] and
// [Channel.AssertPresenceList] cover package presence. [Options] sets the
// serializer, headers and timeouts.
//
// # Phoenix.ChannelTest in Go
//
//	Phoenix.ChannelTest                        channeltest
//	{:ok, socket} = connect(UserSocket, p)     c := Connect(t, srv, p, nil)
//	:error = connect(UserSocket, p)            _, resp, err := TryConnect(t, srv, p, nil)
//	{:ok, reply, socket} =                     ch := c.Join(topic, payload)
//	  subscribe_and_join(socket, topic, p)     reply: ch.JoinResponse()
//	{:error, reply} = subscribe_and_join(...)  c.AssertJoinError(topic, payload, reply)
//	ref = push(socket, event, payload)         ref := ch.Push(event, payload)
//	assert_reply ref, :ok, payload             ch.AssertReply(ref, "ok", payload)
//	assert_push event, payload                 ch.AssertPush(event, payload)
//	assert_broadcast event, payload            ch.AssertBroadcast(event, payload)
//	assert_push "e", %{"n" => n} when n > 0    ch.AssertPushFunc("e", func(p protocol.Payload) bool {...})
//	refute_reply / refute_push /               ch.RefuteReply(ref) / ch.RefutePush(event, payload) /
//	  refute_broadcast                           ch.RefuteBroadcast(event, payload)
//	broadcast_from!(socket, event, payload)    ch.BroadcastFrom(event, payload)
//	leave(socket); assert_reply ref, :ok       ch.Leave()
//	close(socket)                              c.Close()
//
// Payloads are compared as JSON values, not patterns: a nil want matches
// any payload (Phoenix's default %{}), the Func forms take a predicate,
// and every assertion returns the payload it matched. See [Channel].
//
// docs/testing.md in the repository is the guide, with the test a Phoenix
// developer would write beside each Go one.
//
// # A real connection
//
// The client speaks the wire protocol (V2 by default, V1 with
// Options.Serializer) over a loopback WebSocket, so everything between
// phoenix.js and the channel runs as in production: the socket's Connect
// and ID, join routing, the order of frames, fast-lane broadcasts,
// intercepts, binary frames, close codes. Assertions see what a client
// would see. Client.Join also subscribes the test to the topic on the
// server's PubSub, as subscribe_and_join does, so that AssertBroadcast
// sees broadcasts the client does not get (channel.Socket.BroadcastFrom).
//
// # Timeouts
//
// An assertion returns as soon as what it waits for has come, and fails
// after [Options.Timeout], 1 s by default: ExUnit's assert_receive waits
// 100 ms, but a message that crosses a socket and several goroutines,
// often under -race, needs more on a busy machine. A Refute method always
// waits its whole [Options.RefuteTimeout], 100 ms by default (ExUnit's
// refute_receive_timeout), so use them sparingly: an assertion on a later
// message that must come after the refuted one is both faster and
// stronger.
//
// # Concurrency and cleanup
//
// Connect registers the client's cleanup with t.Cleanup: the connection
// is closed, the test's PubSub subscriptions ended, and every goroutine
// the package started has returned when the test ends (go.uber.org/goleak
// finds none). The server is the test's: shut it down in a t.Cleanup
// registered before Connect. Methods are safe for concurrent use, but the
// ones that fail the test call t.Fatal, which must be called from the
// goroutine running the test.
package channeltest
