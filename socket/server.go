package socket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/transport"
)

// Server is a Phoenix socket endpoint: the http.Handler an application
// mounts where Phoenix has `socket "/socket", UserSocket`. It serves
// `<mount>/websocket` (any path ending in /websocket) and routes the
// topics joined on its connections to channel handlers.
//
// Its methods are safe for concurrent use. Routes must be added with
// [Server.Channel] before the server serves requests.
type Server struct {
	opts   Options
	ps     pubsub.PubSub
	origin *transport.OriginChecker
	log    *slog.Logger
	routes []route
	lp     *longPoll // nil when long-poll is off.

	wg sync.WaitGroup // One per connection being served.

	mu       sync.Mutex // Protects the following.
	conns    map[*conn]struct{}
	shutdown bool
}

type route struct {
	pattern string
	prefix  bool
	new     func() channel.Handler
}

// New returns a Server. opts may be nil; it is copied.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PubSub == nil {
		o.PubSub = pubsub.NewLocal("")
	}
	if o.MaxChannels == 0 {
		o.MaxChannels = DefaultMaxChannels
	}
	origin, err := transport.NewOriginChecker(o.CheckOrigin)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, ps: o.PubSub, origin: origin, log: o.Logger, conns: make(map[*conn]struct{})}
	if o.LongPoll != nil {
		s.lp = newLongPoll(*o.LongPoll)
		s.subscribeRemote()
	}
	return s, nil
}

// Channel routes topics matching pattern to handlers made by newHandler, one
// per join. A pattern ending in "*" matches any suffix ("room:*" matches
// "room:" and "room:42"); any other pattern matches exactly. Routes are
// tried in the order they were added.
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
func (s *Server) PubSub() pubsub.PubSub { return s.ps }

// ServeHTTP serves the transports: GET <mount>/websocket, and
// <mount>/longpoll when Options.LongPoll is set.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/websocket"):
		s.serveWebSocket(w, r)
	case s.lp != nil && strings.HasSuffix(r.URL.Path, "/longpoll"):
		s.serveLongPoll(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Broadcast sends event to every subscriber of topic on every node
// (Phoenix's Endpoint.broadcast). payload must encode to a JSON object or
// be a binary protocol.Payload.
func (s *Server) Broadcast(ctx context.Context, topic, event string, payload any) error {
	m, err := channel.NewMessage(topic, event, payload)
	if err != nil {
		return err
	}
	return s.ps.Broadcast(ctx, m)
}

// BroadcastFrom is Broadcast except that the subscriber from does not get
// it: a channel's (see channel.Socket.Subscriber), or any pubsub.Subscriber.
func (s *Server) BroadcastFrom(ctx context.Context, from pubsub.Subscriber, topic, event string, payload any) error {
	m, err := channel.NewMessage(topic, event, payload)
	if err != nil {
		return err
	}
	m.From = from
	return s.ps.Broadcast(ctx, m)
}

// LocalBroadcast is Broadcast on this node only.
func (s *Server) LocalBroadcast(topic, event string, payload any) error {
	m, err := channel.NewMessage(topic, event, payload)
	if err != nil {
		return err
	}
	s.ps.LocalBroadcast(m)
	return nil
}

// Disconnect closes every connection whose socket id is id, on every node,
// with close code 1001 (a "disconnect" broadcast on the id topic). The
// clients reconnect, and Connect may refuse them.
func (s *Server) Disconnect(ctx context.Context, id string) error {
	return s.ps.Broadcast(ctx, &pubsub.Message{Topic: id, Event: "disconnect", Payload: protocol.JSON([]byte("{}"))})
}

// ErrServerClosed is answered to connections attempted after Shutdown.
var ErrServerClosed = errors.New("socket: server closed")

// Shutdown stops accepting connections, closes every open one with close
// code 1012 (service restart: phoenix.js reconnects, normally to another
// node) and waits until they have ended or ctx is done, returning an error
// wrapping ctx.Err() then. It is idempotent, and may be registered with
// http.Server.RegisterOnShutdown, which does not see hijacked connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if s.lp != nil {
		s.unsubscribeRemote()
	}
	for _, c := range conns {
		c.close(transport.CloseShutdown)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("socket: shutdown: %w", ctx.Err())
	}
}

// add registers a connection; false after Shutdown.
func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// connect runs the handshake steps every transport shares: vsn negotiation,
// the Connect callback and the socket id. On failure it returns the HTTP
// status to answer (0 when ErrorHandler wrote the response; w is nil when
// the transport has no custom error responses).
//
// After Shutdown it answers 503 without running Connect.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, params Params, info *ConnectInfo) (protocol.Serializer, map[string]any, string, int) {
	s.mu.Lock()
	closed := s.shutdown
	s.mu.Unlock()
	if closed {
		return nil, nil, "", http.StatusServiceUnavailable
	}
	vsn, _ := params["vsn"].(string)
	if _, present := params["vsn"]; present && vsn == "" {
		vsn = "invalid"
	}
	ser, err := protocol.Negotiate(vsn)
	if err != nil {
		s.log.Warn("refusing connection: unsupported serializer version", "vsn", params["vsn"], "transport", info.Transport)
		return nil, nil, "", http.StatusForbidden
	}
	var assigns map[string]any
	if s.opts.Connect != nil {
		assigns, err = s.opts.Connect(r.Context(), params, info)
		if err != nil {
			if errors.Is(err, ErrRefused) || s.opts.ErrorHandler == nil || w == nil {
				s.log.Debug("connection refused", "transport", info.Transport, "err", err)
				return nil, nil, "", http.StatusForbidden
			}
			s.opts.ErrorHandler(w, r, err)
			return nil, nil, "", 0
		}
	}
	var id string
	if s.opts.ID != nil {
		id = s.opts.ID(assigns)
	}
	return ser, assigns, id, http.StatusOK
}
