package socket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/transport"
)

// ErrRefused refuses a connection from [Options.Connect]: the client gets
// HTTP 403 with an empty body, as with Phoenix's :error.
var ErrRefused = errors.New("socket: connection refused")

// DefaultMaxChannels is Phoenix's max_channels_per_transport.
const DefaultMaxChannels = 100

// Options configures a [Server]. The zero value works: anonymous sockets,
// Phoenix's defaults, an in-process PubSub.
type Options struct {
	// Connect authenticates a new connection (Phoenix's connect/3) and
	// returns its assigns, which every channel of the connection starts
	// with. params are the query string's, plus the wildcards of the
	// http.ServeMux pattern the server is mounted with (path params:
	// "/t/{tenant}/socket/" gives "tenant"; names starting with "_" are
	// left out). Returning ErrRefused answers 403; any other error goes to
	// ErrorHandler. nil accepts every connection with no assigns. It runs
	// in the request's goroutine, before the WebSocket upgrade.
	Connect func(ctx context.Context, params Params, info *ConnectInfo) (assigns map[string]any, err error)

	// ID names the connection (Phoenix's id/1), e.g. "user_socket:42". A
	// named socket is closed by a "disconnect" broadcast on that topic
	// (see [Server.Disconnect]). nil or "" means anonymous.
	ID func(assigns map[string]any) string

	// ErrorHandler writes the response for a Connect error other than
	// ErrRefused (Phoenix's error_handler), e.g. 429 for a rate limit. nil
	// answers 403 with an empty body.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// PubSub carries broadcasts. Mounts that share channels share it. nil
	// means a new pubsub.Local for this Server.
	PubSub pubsub.PubSub

	// CheckOrigin is the origin policy. The zero value checks that the
	// Origin's host is the request's host.
	CheckOrigin transport.OriginPolicy

	// Subprotocols lists the WebSocket subprotocols accepted, in order of
	// preference. Empty means no check and none echoed.
	Subprotocols []string

	// AuthToken accepts phoenix.js 1.8's authToken (carried in
	// Sec-WebSocket-Protocol) and gives it to Connect in ConnectInfo.
	AuthToken bool

	// MaxChannels limits the channels one connection may join. Zero means
	// 100 (Phoenix's default); negative means no limit.
	MaxChannels int

	// IdleTimeout closes a WebSocket from which nothing was received for
	// that long. Zero means 60 s.
	IdleTimeout time.Duration

	// MaxFrameSize is the largest inbound WebSocket message. Zero means
	// 10,000,000 bytes.
	MaxFrameSize int64

	// QueueBytes bounds each connection's outbound queue; a client that
	// falls that far behind is disconnected. Zero means 1 MiB.
	QueueBytes int

	// Compress negotiates permessage-deflate. Off by default, as in Phoenix.
	Compress bool

	// LongPoll serves the long-poll transport at <mount>/longpoll when not
	// nil. Off by default, as in Phoenix.
	LongPoll *LongPollOptions

	// Logger receives the server's logs. nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of [LongPollOptions].
const (
	DefaultLongPollWindow  = transport.DefaultPollWindow
	DefaultLongPollMaxBody = 8_000_000
	DefaultParkAfter       = time.Second
	DefaultMaxWaitingPolls = 100
	DefaultPubSubTimeout   = 2 * time.Second
)

// LongPollOptions configures the long-poll transport (Phoenix's
// `longpoll:` socket options). The zero value uses every default.
type LongPollOptions struct {
	// Window is how long a poll waits for a message before it is answered
	// with status 204, and how long a publish waits for each message to be
	// handled before it is answered with 408. A session that has not
	// polled for 1.5 windows ends, with its channels. Zero means 10 s.
	Window time.Duration

	// Secret keys the HMAC that signs session tokens. Every node behind
	// one load balancer needs the same secret. Empty means a random secret
	// for this Server: tokens then die with the process.
	Secret []byte

	// MaxAge is how long a session token is accepted. Zero means 14 days.
	MaxAge time.Duration

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
	// another node (reached through the PubSub, see docs/longpoll.md)
	// waits for that node to acknowledge it before the session counts as
	// gone: a poll then opens a new session and a publish gets 410.
	// Zero means 2 s (Phoenix's pubsub_timeout_ms).
	PubSubTimeout time.Duration
}
