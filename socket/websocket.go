package socket

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pyrehq/pyre/internal/handshake"
	"github.com/pyrehq/pyre/internal/ws"
)

// serveWebSocket follows Phoenix's order (docs/protocol.md, "Connecting"):
// method, origin, auth token, subprotocol, connect, upgrade validation,
// upgrade.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	start := time.Now()
	params := requestParams(r)
	if !s.origin.Allow(r) {
		s.connected("websocket", params, "", "", http.StatusForbidden, start,
			fmt.Sprintf("origin %q is not allowed: configure Options.CheckOrigin", r.Header.Get("Origin")))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	var token string
	allowed := s.opts.Subprotocols
	if s.opts.AuthToken {
		token, _ = handshake.ExtractAuthToken(r.Header)
		allowed = append([]string{handshake.PhoenixSubprotocol}, allowed...)
	}
	proto, ok := handshake.SelectSubprotocol(r.Header, allowed)
	if !ok {
		s.connected("websocket", params, "", "", http.StatusForbidden, start,
			fmt.Sprintf("no offered subprotocol (%q) is in Options.Subprotocols", r.Header.Get("Sec-WebSocket-Protocol")))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	info := newConnectInfo(r, "websocket")
	info.AuthToken = token
	ser, assigns, id, status, why := s.connect(w, r, params, info)
	if status != http.StatusOK {
		s.connected("websocket", params, "", "", status, start, why)
		switch status {
		case http.StatusServiceUnavailable:
			http.Error(w, ErrServerClosed.Error(), status)
		case 0: // ErrorHandler answered.
		default:
			w.WriteHeader(status)
		}
		return
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		s.connected("websocket", params, ser.Version(), "", http.StatusBadRequest, start,
			"not a WebSocket upgrade: a plain GET to <mount>/websocket (a proxy that drops the Upgrade and Connection headers?)")
		http.Error(w, fmt.Sprintf("'connection' header must contain 'upgrade', got %q", r.Header.Values("Connection")), http.StatusBadRequest)
		return
	}
	c := newConn(s, ser, assigns, id, "websocket")
	if !s.add(c) {
		s.connected("websocket", params, ser.Version(), "", http.StatusServiceUnavailable, start, "the server is shutting down (Server.Shutdown)")
		http.Error(w, ErrServerClosed.Error(), http.StatusServiceUnavailable)
		return
	}
	opts := &ws.Options{Subprotocol: proto, Logger: c.log, OnWrite: s.framesOut("websocket")}
	if s.opts.WebSocket != nil {
		opts.WebSocketOptions = *s.opts.WebSocket
	}
	// The socket id is subscribed, and the subscription ready on every
	// node, before the upgrade completes, so that a Disconnect made as
	// soon as the client is connected reaches it (a close that comes
	// before attach is applied by attach).
	c.start(r.Context())
	conn, err := ws.Accept(w, r, opts)
	if err != nil {
		c.unsubscribeID()
		s.remove(c)
		s.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	s.connected("websocket", params, ser.Version(), id, http.StatusSwitchingProtocols, start, "")
	c.attach(conn)
	// The connection gets a goroutine of its own, and the request's goroutine
	// returns: net/http then frees its per-request state, which would
	// otherwise stay alive, with a deep stack, for the connection's lifetime.
	// add counted the connection in s.group, so this Go is never refused.
	s.group.Go(func() {
		defer s.remove(c)
		c.end(conn.Run(c.handleFrame))
	})
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

var _ sender = (*ws.Conn)(nil)
