package channel

import (
	"errors"
	"fmt"
)

// Reasons a channel ends, passed to [Terminator.Terminate]. All of them but
// a crash count as a normal stop.
var (
	// ErrStop is returned by a callback to stop the channel normally: the
	// client gets phx_close and does not rejoin.
	ErrStop = errors.New("channel: stop")
	// ErrLeft: the client left the topic.
	ErrLeft = fmt.Errorf("channel: left: %w", ErrStop)
	// ErrClosed: the connection closed.
	ErrClosed = fmt.Errorf("channel: connection closed: %w", ErrStop)
	// ErrDisconnected: the connection was closed by a disconnect broadcast.
	ErrDisconnected = fmt.Errorf("channel: disconnected: %w", ErrStop)
	// ErrShutdown: the server is shutting down.
	ErrShutdown = fmt.Errorf("channel: server shutdown: %w", ErrStop)
	// ErrDuplicateJoin: the client joined the same topic again.
	ErrDuplicateJoin = fmt.Errorf("channel: duplicate join: %w", ErrStop)
	// ErrNotJoined is returned by Socket.Push inside Join and once the
	// channel has ended, and by Reply when the connection is gone.
	ErrNotJoined = errors.New("channel: not joined")
)

// JoinError refuses a join with a response: the client gets
// {"status":"error","response":Response}.
type JoinError struct {
	Response any
}

func (e *JoinError) Error() string { return fmt.Sprintf("channel: join refused: %v", e.Response) }

// Refuse returns a *JoinError with response, for [Handler.Join].
func Refuse(response any) error { return &JoinError{Response: response} }

// PanicError is the reason of a channel whose callback panicked: the
// value given to panic and the goroutine's stack.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("channel: panic: %v", e.Value) }

// IsNormal reports whether reason is a normal stop (phx_close) rather than a
// crash (phx_error).
func IsNormal(reason error) bool { return reason == nil || errors.Is(reason, ErrStop) }
