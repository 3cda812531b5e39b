// Package transport holds what an application sets about the transports a
// socket.Server serves, WebSocket and long-poll, and the reasons a
// connection ends.
//
// # Where to start
//
// [WebSocketOptions] and [LongPollOptions] go in socket.Options (the
// WebSocket and LongPoll fields), [OriginPolicy] in its CheckOrigin. Each
// zero value gives Phoenix's defaults. [CloseReason] names why a
// connection ended ([CloseShutdown], [CloseIdle], [CloseStalled], ...),
// the same way in logs, tests and docs.
//
// # What waits for a client is bounded
//
// Frames for a client wait in a queue bounded in bytes (QueueBytes,
// 1 MiB by default). A client that falls that far behind is cut with
// [CloseSlowConsumer]; a client that takes none of the data sent to it for
// the stall timeout (WebSocketOptions.StallTimeout, 4 s by default) is cut
// with [CloseStalled], even when its kernel buffers are not full yet. A
// broadcast or a channel never waits for a client: a frame is written at
// once when the socket takes it without waiting, and queued otherwise.
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
//	CloseStalled        1008  "stalled"          never sent: the connection is cut
//	CloseInactive       1000  "inactive"         long-poll: no poll for 1.5 windows
//	CloseNormal         1000  "closed"           the client closed
//
// A message larger than WebSocketOptions.MaxFrameSize is answered with
// 1009 and the text "read limited at N bytes". The idle timer counts every
// frame received, pings and pongs included. docs/protocol.md in the
// repository describes the wire protocol these apply to.
package transport
