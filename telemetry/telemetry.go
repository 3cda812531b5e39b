// Package telemetry is how an application observes a socket.Server: a
// [Hooks] value of optional functions, one per lifecycle event, given in
// socket.Options.Hooks. The Prometheus collector (module
// github.com/pyrehq/pyre/metrics/prometheus) is built on them; anything
// else (OpenTelemetry, expvar, a test) can be too.
//
// # Cost
//
// A hook that is nil costs a nil check: no allocation, no clock read.
// The events are plain structs passed by value. A hook that is set runs
// synchronously on the goroutine where the event happens (a connection's
// reader or writer, a channel's goroutine, a broadcaster), so it must be
// fast, must not block and must be safe for concurrent use; counting and
// observing a histogram is what it is for.
package telemetry

import (
	"time"

	"github.com/pyrehq/pyre/transport"
)

// Hooks are called on the lifecycle events of a socket.Server's
// connections and channels. Every field may be nil.
type Hooks struct {
	// Connect: a connection attempt was accepted or refused (after the
	// application's Connect callback; long-poll: when its session opens).
	Connect func(ConnectEvent)
	// Disconnect: an accepted connection ended, with its reason.
	Disconnect func(DisconnectEvent)
	// Join: a phx_join was answered, ok or not.
	Join func(JoinEvent)
	// Leave: a joined channel ended, for any reason (its Terminate has
	// run).
	Leave func(LeaveEvent)
	// HandleIn: a channel handled a client push (its HandleIn returned).
	HandleIn func(HandleInEvent)
	// Broadcast: a broadcast was made through the server
	// (Server.Broadcast, Server.LocalBroadcast) or a channel
	// (Socket.Broadcast, Socket.BroadcastFrom).
	Broadcast func(BroadcastEvent)
	// Cut: a client was cut for not reading: transport.CloseSlowConsumer
	// (its queue passed QueueBytes) or transport.CloseStalled. Disconnect
	// follows with the same reason.
	Cut func(CutEvent)
	// DecodeError: an inbound frame was not a Phoenix message; the
	// connection closes (transport.CloseDecodeError).
	DecodeError func(DecodeErrorEvent)
	// ChannelCrash: a channel callback panicked or returned an error other
	// than channel.ErrStop; the client gets phx_error, and Leave follows.
	// For Join (a panic) the client gets {"reason":"join crashed"} instead;
	// for Terminate the panic is only logged.
	ChannelCrash func(ChannelCrashEvent)
	// LongPollSession: a long-poll session started or ended.
	LongPollSession func(LongPollSessionEvent)
	// RateLimited: a connection passed a rate limit of
	// socket.Options.Limits; called once per episode, when it starts.
	RateLimited func(RateLimitEvent)
	// FramesIn: frames received from a client (one call per frame).
	FramesIn func(FramesEvent)
	// FramesOut: frames written to a client (one call per frame written at
	// once, per batch of queued frames written, or per poll answered). It
	// may run on a broadcaster's goroutine, at the end of its fan-out: it
	// must not block or broadcast.
	FramesOut func(FramesEvent)
}

// The transports, as events name them.
const (
	TransportWebSocket = "websocket"
	TransportLongPoll  = "longpoll"
)

// ConnectEvent describes a connection attempt.
type ConnectEvent struct {
	Transport string // TransportWebSocket or TransportLongPoll
	Vsn       string // the serializer's version, "1.0.0" or "2.0.0"; "" when refused before
	SocketID  string // Options.ID's result, "" when anonymous or refused
	// Status is the HTTP status the attempt was answered with: 101
	// (WebSocket upgrade) or 200 (long-poll session) when accepted; 403
	// when refused (origin, subprotocol, vsn, Connect), 400 for a plain
	// GET of <mount>/websocket that Connect accepted, 503 after Shutdown,
	// and 0 when Options.ErrorHandler wrote the answer.
	Status   int
	Duration time.Duration // the handshake, the Connect callback included
}

// Accepted reports whether the connection was accepted.
func (e ConnectEvent) Accepted() bool { return e.Status == 101 || e.Status == 200 }

// DisconnectEvent describes the end of a connection.
type DisconnectEvent struct {
	Transport string
	SocketID  string
	Reason    transport.CloseReason
	Connected time.Duration // how long it was connected
}

// Join outcomes (JoinEvent.Status).
const (
	JoinOK        = "ok"
	JoinRefused   = "error"     // Join returned an error: the client got an error reply
	JoinCrashed   = "crashed"   // Join panicked, or its reply could not be encoded
	JoinUnmatched = "unmatched" // no route for the topic
	JoinTooMany   = "too_many"  // the connection has MaxChannels channels
)

// JoinEvent describes an answered phx_join.
type JoinEvent struct {
	Transport string
	SocketID  string
	Topic     string
	Status    string        // JoinOK, JoinRefused, JoinCrashed, JoinUnmatched or JoinTooMany
	Duration  time.Duration // the Join callback (0 when it did not run)
}

// LeaveEvent describes the end of a joined channel.
type LeaveEvent struct {
	Transport string
	SocketID  string
	Topic     string
	Reason    error // what Terminate got: channel.ErrLeft, channel.ErrClosed, ...
	Crashed   bool  // the client got phx_error
	Joined    time.Duration
}

// HandleInEvent describes a client push handled by a channel.
type HandleInEvent struct {
	Transport string
	SocketID  string
	Topic     string
	Event     string
	Duration  time.Duration
	Crashed   bool // the callback panicked or failed (ChannelCrash follows)
}

// BroadcastEvent describes a broadcast.
type BroadcastEvent struct {
	Topic string
	Event string
	Local bool // this node only
}

// CutEvent describes a client cut for not reading.
type CutEvent struct {
	Transport string
	SocketID  string
	Reason    transport.CloseReason
}

// DecodeErrorEvent describes an inbound frame that did not decode.
type DecodeErrorEvent struct {
	Transport string
	SocketID  string
	Err       error
}

// ChannelCrashEvent describes a crashed channel.
type ChannelCrashEvent struct {
	Transport string
	SocketID  string
	Topic     string
	// Callback is the callback that crashed: "Join", "HandleIn",
	// "HandleOut", "HandleInfo" or "Terminate" (whose panic is logged but
	// does not change how the channel ends).
	Callback string
	Event    string // the push or broadcast being handled, if any
	Err      error  // the error returned, or a *channel.PanicError
}

// LongPollSessionEvent describes the start or the end of a long-poll
// session.
type LongPollSessionEvent struct {
	SocketID string
	Started  bool                  // false: it ended
	Reason   transport.CloseReason // why it ended
}

// FramesEvent counts frames to or from one client.
type FramesEvent struct {
	Transport string
	Frames    int
	Bytes     int
}

// The rate limits, as RateLimitEvent names them.
const (
	LimitMessages = "messages"
	LimitJoins    = "joins"
)

// RateLimitEvent describes a connection that passed a rate limit.
type RateLimitEvent struct {
	Transport string
	SocketID  string
	Limit     string // LimitMessages or LimitJoins
	Closed    bool   // the connection was closed, rather than the message refused
}
