package transport

import "time"

// WebSocketOptions configures the WebSocket transport of a socket.Server
// (Phoenix's `websocket:` socket options). The zero value uses every
// default.
type WebSocketOptions struct {
	// MaxFrameSize is the largest inbound message, in bytes; a larger one
	// closes the connection with 1009. Zero means 10,000,000 (Phoenix's).
	MaxFrameSize int64

	// IdleTimeout closes the connection with CloseIdle when nothing at all
	// (data or control frame) has been received for that long. phoenix.js
	// sends a heartbeat every 30 s. Zero means 60 s (Phoenix's timeout).
	IdleTimeout time.Duration

	// QueueBytes bounds the frames waiting for the connection's writer, in
	// bytes. A frame that would pass it cuts the connection with
	// CloseSlowConsumer: a broadcast never waits for a slow client. A
	// single frame larger than the bound is still sent when nothing else
	// waits. Zero means 1 MiB.
	QueueBytes int

	// StallTimeout cuts a client that has taken none of the data sent to
	// it for that long, with CloseStalled, whether or not the kernel's
	// send buffer is full and whether or not QueueBytes is reached: its
	// channels terminate (presence says it left) and Server.Shutdown does
	// not wait for it beyond this. A client that reads slowly but keeps
	// taking data is never cut. On Linux the kernel measures it
	// (TCP_USER_TIMEOUT: unacknowledged data, or a zero receive window),
	// and the connection's TCP keepalive is turned off, since one lost
	// keepalive probe would then reset a healthy idle connection (the
	// idle timeout finds dead peers); elsewhere it bounds each blocked
	// write. Zero means 4 s; negative
	// turns it off.
	StallTimeout time.Duration

	// Compress negotiates permessage-deflate when the client offers it.
	// Off by default, as in Phoenix.
	Compress bool
}

// LongPollOptions configures the long-poll transport of a socket.Server
// (Phoenix's `longpoll:` socket options). The zero value uses every
// default.
type LongPollOptions struct {
	// Window is how long a poll waits for a message before it is answered
	// with status 204, and how long a publish waits for each message to be
	// handled before it is answered with 408. A session that has not
	// polled for 1.5 windows ends, with its channels. Zero means 10 s
	// (Phoenix's window_ms).
	Window time.Duration

	// Secret keys the HMAC that signs session tokens. Every node behind
	// one load balancer needs the same secret. Empty means a random secret
	// for this Server: tokens then die with the process.
	Secret []byte

	// MaxAge is how long a session token is accepted. Zero means 14 days.
	MaxAge time.Duration

	// QueueBytes bounds the frames buffered for the next poll, in bytes; a
	// frame that would pass it ends the session with CloseSlowConsumer.
	// Zero means 1 MiB.
	QueueBytes int

	// ParkAfter is how long a poll waits in its request's goroutine before
	// it is parked: its connection is taken from net/http, so that a
	// waiting poll holds a few KiB instead of net/http's goroutines and
	// buffers (about 20 KiB), and it is answered with Connection: close,
	// the client's next poll opening a new connection. A busy session is
	// answered before it parks and keeps its connection. Zero means 1 s;
	// negative never parks.
	ParkAfter time.Duration

	// MaxWaitingPolls bounds how many polls wait in request goroutines
	// at once, across the Server: while that many wait, a new poll with
	// nothing to take parks at once instead of after ParkAfter. It bounds
	// what a burst of idle sessions costs in net/http (about 20 KiB per
	// waiting poll) whatever their number. Zero means 100; negative, no
	// bound. It has no effect when ParkAfter is negative.
	MaxWaitingPolls int

	// MaxBodyBytes bounds a publish request's body; a larger one is
	// answered with HTTP 400. Zero means 8,000,000 bytes (Plug's limit).
	MaxBodyBytes int64

	// PubSubTimeout is how long a request whose session is held by
	// another node (reached through the PubSub) waits for that node to
	// acknowledge it before the session counts as gone: a poll then opens
	// a new session and a publish gets 410. Zero means 2 s (Phoenix's
	// pubsub_timeout_ms).
	PubSubTimeout time.Duration
}
