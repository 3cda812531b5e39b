package socket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// ErrRefused refuses a connection from [Options.Connect]: the client gets
// HTTP 403 with an empty body, as with Phoenix's :error.
var ErrRefused = errors.New("socket: connection refused")

// defaultMaxChannels is Phoenix's max_channels_per_transport.
const defaultMaxChannels = 100

// Options configures a [Server]: Phoenix's `socket "/socket", UserSocket,
// ...` options and the UserSocket callbacks. The zero value works:
// anonymous sockets, Phoenix's defaults, an in-process PubSub, the
// WebSocket transport only.
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
	// answers 403 with an empty body. Long-poll requests always get
	// {"status":403}.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// PubSub carries broadcasts, on this node and to the others. Servers
	// that share channels share it. nil means a PubSub of this Server
	// alone, closed by Shutdown.
	PubSub *pubsub.PubSub

	// CheckOrigin is the origin policy. The zero value checks that the
	// Origin's host is the request's host.
	CheckOrigin transport.OriginPolicy

	// Subprotocols lists the WebSocket subprotocols accepted, in order of
	// preference. Empty means no check and none echoed.
	Subprotocols []string

	// AuthToken accepts phoenix.js 1.8's authToken (carried in
	// Sec-WebSocket-Protocol, or the X-Phoenix-AuthToken header for
	// long-poll) and gives it to Connect in ConnectInfo.
	AuthToken bool

	// MaxChannels limits the channels one connection may join. Zero means
	// 100 (Phoenix's default); negative means no limit.
	MaxChannels int

	// WebSocket configures the WebSocket transport, served at
	// <mount>/websocket. nil means every default.
	WebSocket *transport.WebSocketOptions

	// LongPoll serves the long-poll transport at <mount>/longpoll when not
	// nil. Off by default, as in Phoenix.
	LongPoll *transport.LongPollOptions

	// Logger receives the server's logs. nil means slog.Default().
	Logger *slog.Logger

	// Log sets which events are logged at which level (connections, joins,
	// handled pushes) and which params are filtered. nil means the
	// defaults of [LogOptions].
	Log *LogOptions

	// Limits bounds the pushes and joins per second of one connection
	// (beyond Phoenix). nil means no limits.
	Limits *LimitOptions

	// Drain sets how Shutdown closes the open connections. nil means
	// Phoenix's drainer defaults.
	Drain *DrainOptions

	// Hooks are told of every lifecycle event of the server's connections
	// and channels (package telemetry), e.g. to count them in Prometheus.
	// nil means none; a nil hook costs nothing.
	Hooks *telemetry.Hooks
}

// DrainOptions sets how [Server.Shutdown] closes the open connections,
// as Phoenix's drainer does. The zero value uses every default.
type DrainOptions struct {
	// BatchSize is how many connections are closed per BatchInterval,
	// the closes spread evenly over it. Zero means 10,000 (Phoenix's
	// batch_size); negative closes them all at once.
	BatchSize int
	// BatchInterval: zero means 2 s (Phoenix's batch_interval).
	BatchInterval time.Duration
	// Timeout bounds the whole drain: when it passes, the connections
	// still open are cut. Zero means 30 s (Phoenix's shutdown).
	Timeout time.Duration
}

func (d *DrainOptions) withDefaults() DrainOptions {
	var c DrainOptions
	if d != nil {
		c = *d
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10_000
	}
	if c.BatchInterval <= 0 {
		c.BatchInterval = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return c
}
