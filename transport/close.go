package transport

// CloseReason is why a connection ended: a WebSocket close code and a
// short reason text. The named values below are used the same way in
// logs, tests and docs; compare reasons with ==.
type CloseReason struct {
	Code   int
	Reason string
}

func (r CloseReason) String() string { return r.Reason }

// The close reasons Pyre uses, with Phoenix's codes (docs/protocol.md,
// "Close codes").
var (
	// CloseDisconnect: a "disconnect" broadcast on the socket id
	// (socket.Server.Disconnect). 1001, as Phoenix 1.8.8+.
	CloseDisconnect = CloseReason{1001, "disconnected"}
	// CloseShutdown: the server is shutting down (socket.Server.Shutdown),
	// 1012 as Phoenix's drainer: phoenix.js reconnects, normally to
	// another node.
	CloseShutdown = CloseReason{1012, "server shutdown"}
	// CloseIdle: nothing was received for the idle timeout (Cowboy: 1000).
	CloseIdle = CloseReason{1000, "idle timeout"}
	// CloseDecodeError: an inbound frame could not be decoded (Cowboy: 1011).
	CloseDecodeError = CloseReason{1011, "invalid message"}
	// CloseInvalidUTF8: a text frame was not valid UTF-8 (1007).
	CloseInvalidUTF8 = CloseReason{1007, "invalid utf-8"}
	// CloseSlowConsumer: the outbound queue passed its bound because the
	// client does not read fast enough. The connection is cut without a
	// close frame, which the client would not read.
	CloseSlowConsumer = CloseReason{1008, "slow consumer"}
	// CloseStalled: the client took none of the data sent to it for the
	// stall timeout (WebSocketOptions.StallTimeout). The connection is
	// cut without a close frame.
	CloseStalled = CloseReason{1008, "stalled"}
	// CloseRateLimited: the client passed a rate limit of
	// socket.Options.Limits set to close (1008, policy violation;
	// phoenix.js reconnects).
	CloseRateLimited = CloseReason{1008, "rate limited"}
	// CloseInactive: a long-poll session had no poll for 1.5 poll windows
	// (Phoenix's {:shutdown, :inactive}). There is no close frame to send.
	CloseInactive = CloseReason{1000, "inactive"}
	// CloseNormal: the client closed the connection, or it ended for a
	// reason without a name of its own.
	CloseNormal = CloseReason{1000, "closed"}
)
