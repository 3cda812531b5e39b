// Package transport moves encoded Phoenix frames between a client and the
// server, and implements the HTTP handshake checks that Phoenix applies
// before a socket connects. It knows nothing of topics or channels: it
// sees frames ([protocol.Frame]) going out and byte slices coming in.
//
// The WebSocket transport is built on github.com/coder/websocket. The
// long-poll transport ([LongPoll]) is the session state behind Phoenix's
// long-poll requests: a bounded buffer of outbound frames taken by polls,
// inbound frames handed to a Handler in order, and an inactivity timeout;
// [TokenSigner] signs the session tokens. Package socket does the HTTP.
//
// # Where to start
//
// Most applications never use this package directly: package socket
// accepts connections and runs them. They meet it through two types:
//
//   - [OriginPolicy], the origin check of socket.Options.CheckOrigin,
//     with Phoenix's check_origin rules ([OriginChecker] applies it);
//   - [CloseReason], the named reasons a connection ends with
//     ([CloseShutdown], [CloseIdle], ...), used the same way in logs,
//     tests and docs.
//
// To serve a WebSocket with it, call [AcceptWebSocket] in an HTTP handler,
// then [WebSocket.Run] with a [Handler] for inbound messages, and queue
// outbound frames with [WebSocket.Send]. [ExtractAuthToken] and
// [SelectSubprotocol] are the Sec-WebSocket-Protocol rules of Phoenix
// (phoenix.js 1.8's authToken, and the subprotocol list).
//
// # Concurrency
//
// A [WebSocket] has one reader, the goroutine that calls [WebSocket.Run],
// which calls the Handler for each message in order. Outbound frames go to
// a queue bounded in bytes ([WebSocketOptions.QueueBytes], counting the
// frames that wait for the writer); one writer goroutine, started with the
// first frame and parked while the queue is empty, writes them in order
// until the connection closes.
//
// [WebSocket.Send] and [WebSocket.Close] may be called from any goroutine
// and never block. A Send that would pass the queue's bound closes the
// connection with [CloseSlowConsumer] at once: the queued frames are
// dropped and the TCP connection is closed without a close frame, since a
// client that does not read would not read one either. A frame larger
// than the whole bound is still accepted when the queue is empty.
//
// A [LongPoll] holds no goroutine while idle: a poll waits in its
// request's goroutine, or parked ([Waiter.Park]) with none; inbound frames
// are handled by a goroutine started while frames wait for it, one at a
// time and in order. Its methods may be called from any goroutine.
//
// [OriginChecker] and the functions are safe for concurrent use.
//
// # Close codes
//
// The codes follow Phoenix (on Cowboy) where Phoenix has one:
//
//	reason              code  reason text        when
//	CloseDisconnect     1001  "disconnected"     socket.Server.Disconnect
//	CloseShutdown       1012  "server shutdown"  socket.Server.Shutdown
//	CloseIdle           1000  "idle timeout"     nothing received for IdleTimeout
//	CloseDecodeError    1011  "invalid message"  a frame that does not decode
//	CloseInvalidUTF8    1007  "invalid utf-8"    a text frame that is not UTF-8
//	CloseSlowConsumer   1008  "slow consumer"    never sent: the connection is cut
//	CloseInactive       1000  "inactive"         long-poll: no poll for 1.5 windows
//	CloseNormal         1000  "closed"           the client closed, or a Handler returned it
//
// A message larger than [WebSocketOptions.MaxFrameSize] is answered by
// github.com/coder/websocket with 1009 and the text "read limited at N
// bytes"; [WebSocket.Run] then returns [CloseNormal]. The idle timer
// counts every frame received, pings and pongs included; phoenix.js's
// heartbeat (every 30 s) keeps a live client well inside the default 60 s.
package transport
