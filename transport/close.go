package transport

import "github.com/coder/websocket"

// CloseReason is why a connection was closed: a WebSocket close code and a
// short reason text. The named values are used the same way in logs, tests
// and docs.
type CloseReason struct {
	Code   websocket.StatusCode
	Reason string
}

func (r CloseReason) String() string { return r.Reason }

// The close reasons Pyre uses, with Phoenix's codes (PROTOCOL.md §5.14).
var (
	// CloseDisconnect: a "disconnect" broadcast on the socket id (Phoenix 1.8.8+: 1001).
	CloseDisconnect = CloseReason{websocket.StatusGoingAway, "disconnected"}
	// CloseShutdown: the server is shutting down (Phoenix's drainer: 1012).
	CloseShutdown = CloseReason{websocket.StatusServiceRestart, "server shutdown"}
	// CloseIdle: nothing was received for the idle timeout (Cowboy: 1000).
	CloseIdle = CloseReason{websocket.StatusNormalClosure, "idle timeout"}
	// CloseDecodeError: an inbound frame could not be decoded (Cowboy: 1011).
	CloseDecodeError = CloseReason{websocket.StatusInternalError, "invalid message"}
	// CloseInvalidUTF8: a text frame was not valid UTF-8 (1007).
	CloseInvalidUTF8 = CloseReason{websocket.StatusInvalidFramePayloadData, "invalid utf-8"}
	// CloseSlowConsumer: the outbound queue overflowed because the client
	// does not read fast enough. The connection is cut without waiting for
	// a close handshake the client would not read.
	CloseSlowConsumer = CloseReason{websocket.StatusPolicyViolation, "slow consumer"}
	// CloseInactive: a long-poll session had no poll for 1.5 poll windows
	// (Phoenix's {:shutdown, :inactive}). There is no close frame to send.
	CloseInactive = CloseReason{websocket.StatusNormalClosure, "inactive"}
	// CloseNormal: the client closed the connection, or the handler ended it.
	CloseNormal = CloseReason{websocket.StatusNormalClosure, "closed"}
)
