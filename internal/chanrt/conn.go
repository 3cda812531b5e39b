package chanrt

import (
	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/protocol"
)

// Conn is what a channel needs from the connection it belongs to. The
// socket package implements it; a test can too.
type Conn interface {
	// Serializer encodes this connection's frames.
	Serializer() protocol.Serializer
	// Send sends a frame to the client without blocking (a WebSocket
	// writes it at once when nothing waits, with one non-blocking system
	// call, and queues it otherwise); false when the connection is
	// closing.
	Send(f protocol.Frame) bool
	// SendBatch is Send inside a PubSub's fan-out: a WebSocket with
	// nothing waiting queues f and adds itself to b, which writes it
	// once the fan-out is done, with whatever queued behind it (package
	// sendbatch); otherwise it is Send.
	SendBatch(f protocol.Frame, b *sendbatch.Batch) bool
	// SlowConsumer ends the connection as its transport does when its
	// outbound queue passes its bound (transport.CloseSlowConsumer): for
	// a joining channel whose held broadcasts passed Config.HoldBytes.
	// It does not block.
	SlowConsumer()
	// Transport names the transport, "websocket" or "longpoll".
	Transport() string
	// ID is the socket id, "" for an anonymous socket.
	ID() string
	// ChannelClosed is called from the channel's goroutine when the channel
	// ends on its own (not when the connection ended it): before Terminate
	// for a normal stop (the connection sends phx_close), after Terminate
	// for a crash (phx_error).
	ChannelClosed(c *Channel, crashed bool)
}
