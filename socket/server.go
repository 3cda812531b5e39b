package socket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanlink"
	"github.com/pyrehq/pyre/internal/handshake"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// Server is a Phoenix socket endpoint: the http.Handler an application
// mounts where Phoenix has `socket "/socket", UserSocket`. It serves
// `<mount>/websocket` (any path ending in /websocket), `<mount>/longpoll`
// when [Options.LongPoll] is set, and routes the topics joined on its
// connections to channel handlers.
//
// Its methods are safe for concurrent use. Routes must be added with
// [Server.Channel] before the server serves requests.
type Server struct {
	opts   Options
	hooks  *telemetry.Hooks // nil: none
	logc   logConfig
	ps     *pubsub.PubSub
	ownPS  bool // ps was made by New: Shutdown closes it.
	origin *handshake.OriginChecker
	log    *slog.Logger
	routes []route
	lp     *longPoll // nil when long-poll is off.
	drain  DrainOptions

	// group owns every goroutine the Server starts: one per connection,
	// the long-poll sessions' and forwarded requests'. Shutdown waits
	// for it.
	group workq.Group

	mu       sync.Mutex // Protects the following.
	conns    map[*conn]struct{}
	shutdown bool

	lpOffLogged atomic.Int64 // When the last "long-poll is off" line was logged (unix ns).
}

type route struct {
	pattern string
	prefix  bool
	new     func() channel.Handler
}

// New returns a Server. opts may be nil; it is copied. It fails for an
// origin policy entry without a host.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxChannels == 0 {
		o.MaxChannels = defaultMaxChannels
	}
	origin, err := handshake.NewOriginChecker(o.CheckOrigin)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, hooks: o.Hooks, logc: newLogConfig(o.Log), drain: o.Drain.withDefaults(),
		ps: o.PubSub, origin: origin, log: o.Logger, conns: make(map[*conn]struct{})}
	if s.ps == nil {
		if s.ps, err = pubsub.New(context.Background(), &pubsub.Options{Logger: o.Logger}); err != nil {
			return nil, err
		}
		s.ownPS = true
	}
	if o.LongPoll != nil {
		s.lp = newLongPoll(*o.LongPoll)
		if err := s.subscribeRemote(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Channel routes topics matching pattern to handlers made by newHandler, one
// per join (Phoenix's `channel "room:*", RoomChannel`). A pattern ending in
// "*" matches any suffix ("room:*" matches "room:" and "room:42"); any
// other pattern matches exactly. Routes are tried in the order they were
// added.
func (s *Server) Channel(pattern string, newHandler func() channel.Handler) {
	r := route{pattern: pattern, new: newHandler}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		r.pattern, r.prefix = p, true
	}
	s.routes = append(s.routes, r)
}

func (s *Server) match(topic string) func() channel.Handler {
	for _, r := range s.routes {
		if r.prefix && strings.HasPrefix(topic, r.pattern) || !r.prefix && topic == r.pattern {
			return r.new
		}
	}
	return nil
}

// PubSub returns the server's PubSub.
func (s *Server) PubSub() *pubsub.PubSub { return s.ps }

// ServeHTTP serves the transports: GET <mount>/websocket, and
// <mount>/longpoll when Options.LongPoll is set. Other paths get 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/websocket"):
		s.serveWebSocket(w, r)
	case strings.HasSuffix(r.URL.Path, "/longpoll"):
		if s.lp == nil {
			s.longPollOff(r)
			http.NotFound(w, r)
			return
		}
		s.serveLongPoll(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Broadcast sends event to every subscriber of topic on every node
// (Phoenix's Endpoint.broadcast). payload is nil ({}), a
// [protocol.Payload], a json.RawMessage or any value encoding/json
// encodes, and must be a JSON object or binary.
func (s *Server) Broadcast(ctx context.Context, topic, event string, payload any) error {
	m, err := chanlink.Broadcast(topic, event, payload)
	if err != nil {
		return err
	}
	if s.hooks != nil && s.hooks.Broadcast != nil {
		s.hooks.Broadcast(telemetry.BroadcastEvent{Topic: topic, Event: event})
	}
	return s.ps.Broadcast(ctx, m)
}

// LocalBroadcast is Broadcast on this node only (Phoenix's
// Endpoint.local_broadcast).
func (s *Server) LocalBroadcast(topic, event string, payload any) error {
	m, err := chanlink.Broadcast(topic, event, payload)
	if err != nil {
		return err
	}
	if s.hooks != nil && s.hooks.Broadcast != nil {
		s.hooks.Broadcast(telemetry.BroadcastEvent{Topic: topic, Event: event, Local: true})
	}
	return s.ps.LocalBroadcast(m)
}

// Disconnect closes every connection whose socket id is id, on every node,
// with close code 1001 (a "disconnect" broadcast on the id topic). The
// clients reconnect, and Connect may refuse them.
func (s *Server) Disconnect(ctx context.Context, id string) error {
	return s.ps.Broadcast(ctx, &pubsub.Message{Topic: id, Event: "disconnect", Payload: protocol.JSON([]byte("{}"))})
}

// ErrServerClosed is answered to connections attempted after Shutdown.
var ErrServerClosed = errors.New("socket: server closed")

// Shutdown stops accepting connections, then drains the open ones as
// Phoenix's drainer does: it closes them with close code 1012 (service
// restart: phoenix.js reconnects, normally to another node) at most
// [DrainOptions].BatchSize per BatchInterval, spread evenly, so that the
// other nodes behind a load balancer absorb the reconnections gradually;
// long-poll sessions end and their clients reconnect on their next poll.
// It then waits until every connection has ended, their channels'
// Terminate included, and every goroutine the Server started has
// returned. A client that does not read is cut after the stall timeout
// (transport.WebSocketOptions.StallTimeout) rather than waited for.
//
// When ctx ends, or the drain's Timeout passes, first, Shutdown cuts the
// connections still open at once; if ctx ended it returns an error
// wrapping ctx.Err(). It logs, at Info, how many connections it closed
// and how the closes were spread.
//
// Shutdown is idempotent, and may be registered with
// http.Server.RegisterOnShutdown, which does not see hijacked connections.
// A PubSub that New made is closed; one given in Options is not.
func (s *Server) Shutdown(ctx context.Context) error {
	start := time.Now()
	s.mu.Lock()
	s.shutdown = true
	conns := s.connList()
	s.mu.Unlock()
	if s.lp != nil {
		s.unsubscribeRemote()
	}
	d := s.drain
	budget, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	spread := s.closeAll(budget, conns, d)
	err := s.group.Wait(budget)
	if err != nil {
		s.mu.Lock()
		conns = s.connList()
		s.mu.Unlock()
		for _, c := range conns {
			c.abort()
		}
		if ctx.Err() != nil {
			return fmt.Errorf("socket: shutdown: %w", ctx.Err())
		}
		s.log.Warn("shutdown: drain timeout passed; connections still open were cut", "timeout", d.Timeout, "cut", len(conns))
		err = s.group.Wait(ctx)
		if err != nil {
			return fmt.Errorf("socket: shutdown: %w", err)
		}
	}
	if len(spread) > 0 {
		s.log.Info("shutdown: drained "+strconv.Itoa(len(spread))+" connections in "+time.Since(start).Round(time.Millisecond).String(),
			"first_close", spread[0].Round(time.Microsecond), "median_close", spread[len(spread)/2].Round(time.Microsecond),
			"last_close", spread[len(spread)-1].Round(time.Microsecond),
			"batch_size", d.BatchSize, "batch_interval", d.BatchInterval)
	}
	s.group.Close()
	if s.ownPS {
		return s.ps.Close(ctx)
	}
	return nil
}

// closeAll closes conns with CloseShutdown at most d.BatchSize per
// d.BatchInterval, spread over ticks of drainTick, and returns when each
// close was asked for, counted from the call. When ctx ends it closes the
// rest at once.
func (s *Server) closeAll(ctx context.Context, conns []*conn, d DrainOptions) []time.Duration {
	start := time.Now()
	at := make([]time.Duration, 0, len(conns))
	perTick := len(conns)
	if d.BatchSize > 0 && d.BatchInterval > 0 {
		perTick = max(1, int(int64(d.BatchSize)*int64(drainTick)/int64(d.BatchInterval)))
	}
	var tick *time.Ticker
	for len(conns) > 0 {
		n := min(perTick, len(conns))
		for _, c := range conns[:n] {
			c.close(transport.CloseShutdown)
			at = append(at, time.Since(start))
		}
		conns = conns[n:]
		if len(conns) == 0 {
			break
		}
		if tick == nil {
			tick = time.NewTicker(drainTick)
			defer tick.Stop()
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			perTick = len(conns) // The rest at once.
		}
	}
	return at
}

// drainTick is how often a draining Shutdown closes its next connections.
const drainTick = 10 * time.Millisecond

// connList returns the open connections. s.mu must be held.
func (s *Server) connList() []*conn {
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// add registers a connection, which Shutdown then waits for until
// remove; false after Shutdown.
func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown || !s.group.Add() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.group.Done()
}

// connect runs the handshake steps every transport shares: vsn negotiation,
// the Connect callback and the socket id. On failure it returns the HTTP
// status to answer (0 when ErrorHandler wrote the response; w is nil when
// the transport has no custom error responses) and why, for the log.
//
// After Shutdown it answers 503 without running Connect.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, params Params, info *ConnectInfo) (ser protocol.Serializer, assigns map[string]any, id string, status int, why string) {
	s.mu.Lock()
	closed := s.shutdown
	s.mu.Unlock()
	if closed {
		return 0, nil, "", http.StatusServiceUnavailable, "the server is shutting down (Server.Shutdown)"
	}
	vsn, _ := params["vsn"].(string)
	if _, present := params["vsn"]; present && vsn == "" {
		vsn = "invalid"
	}
	ser, err := protocol.Negotiate(vsn)
	if err != nil {
		return 0, nil, "", http.StatusForbidden, fmt.Sprintf("unsupported vsn %q: Pyre serves vsn 1.0.x and 2.0.x (phoenix.js sends 2.0.0)", vsn)
	}
	if s.opts.Connect != nil {
		assigns, err = s.opts.Connect(r.Context(), params, info)
		if err != nil {
			if errors.Is(err, ErrRefused) || s.opts.ErrorHandler == nil || w == nil {
				return 0, nil, "", http.StatusForbidden, "Connect returned: " + err.Error()
			}
			s.opts.ErrorHandler(w, r, err)
			return 0, nil, "", 0, "Connect returned: " + err.Error() + " (answered by ErrorHandler)"
		}
	}
	if s.opts.ID != nil {
		id = s.opts.ID(assigns)
	}
	return ser, assigns, id, http.StatusOK, ""
}

// longPollOff logs, at most once a minute, that a long-poll request came
// to a Server whose long-poll transport is off, and what to do.
func (s *Server) longPollOff(r *http.Request) {
	now := time.Now().UnixNano()
	last := s.lpOffLogged.Load()
	if now-last < int64(time.Minute) || !s.lpOffLogged.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("404 for a long-poll request: the long-poll transport is off. Set Options.LongPoll to serve it; "+
		"phoenix.js falls back to long-poll when it cannot open a WebSocket (from Node 20, which has no global WebSocket, "+
		"pass the ws package as the Socket's transport)", "path", r.URL.Path, "user_agent", r.UserAgent())
}
