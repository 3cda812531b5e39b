package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// App is the reference app: its socket mounts and HTTP routes.
type App struct {
	mux      *http.ServeMux
	ps       *pubsub.PubSub
	sockets  []*socket.Server
	main     *socket.Server
	presence *presence.Tracker
}

// NewApp builds the app that examples/testapp/README.md describes on ps,
// which it closes at Shutdown. lpSecret signs long-poll session tokens:
// every node of a cluster needs the same (empty: a random one). hooks, if
// not nil, are every socket's telemetry hooks.
func NewApp(ps *pubsub.PubSub, lpSecret []byte, logger *slog.Logger, hooks *telemetry.Hooks) (*App, error) {
	a := &App{mux: http.NewServeMux(), ps: ps}
	ws := transport.OriginPolicy{Origins: []string{"//example.com"}}
	short := &transport.WebSocketOptions{IdleTimeout: 200 * time.Millisecond}
	mounts := []struct {
		path string
		info bool
		opts socket.Options
	}{
		{"/socket/", false, socket.Options{CheckOrigin: transport.OriginPolicy{Disabled: true}, LongPoll: &transport.LongPollOptions{Secret: lpSecret}}},
		{"/ws/", false, socket.Options{CheckOrigin: ws, WebSocket: short}},
		{"/ws/admin/", false, socket.Options{CheckOrigin: ws, WebSocket: short}},
		{"/ws/connect_info/", true, socket.Options{CheckOrigin: ws, WebSocket: short}},
	}
	a.presence = newPresence(a.ps, logger)
	for _, m := range mounts {
		opts := m.opts
		opts.PubSub = a.ps
		opts.Logger = logger
		opts.Hooks = hooks
		opts.Connect = userConnect(m.info)
		opts.ID = userID
		s, err := socket.New(&opts)
		if err != nil {
			return nil, err
		}
		s.Channel("room:*", func() channel.Handler { return &RoomChannel{} })
		s.Channel("presence:*", presenceChannel(a.presence))
		s.Channel("bench:*", func() channel.Handler { return &BenchChannel{} })
		a.mux.Handle(m.path, s)
		a.sockets = append(a.sockets, s)
	}
	a.main = a.sockets[0]
	a.mux.HandleFunc("POST /broadcast", a.broadcast)
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	return a, nil
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Shutdown closes every socket of every mount.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range a.sockets {
		errs = append(errs, s.Shutdown(ctx))
	}
	errs = append(errs, a.presence.Shutdown(ctx), a.ps.Close(ctx))
	return errors.Join(errs...)
}

// broadcast is POST /broadcast?topic=T&event=E with a JSON body.
func (a *App) broadcast(w http.ResponseWriter, r *http.Request) {
	topic, event := r.URL.Query().Get("topic"), r.URL.Query().Get("event")
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if topic == "" || event == "" || err != nil {
		http.Error(w, "topic and event are required", http.StatusBadRequest)
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		http.Error(w, "body is not JSON", http.StatusBadRequest)
		return
	}
	if err := a.main.Broadcast(r.Context(), topic, event, protocol.JSON(body)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	io.WriteString(w, "ok")
}

// userConnect is UserSocket's (and InfoSocket's) connect.
func userConnect(withInfo bool) func(context.Context, socket.Params, *socket.ConnectInfo) (map[string]any, error) {
	return func(_ context.Context, params socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
		if params.Get("reject") == "true" {
			return nil, socket.ErrRefused
		}
		assigns := map[string]any{}
		if uid, ok := params["user_id"]; ok {
			assigns["user_id"] = uid
		}
		if withInfo {
			assigns["connect_info"] = connectInfoMap(info)
		}
		return assigns, nil
	}
}

func connectInfoMap(info *socket.ConnectInfo) map[string]any {
	x := map[string]string{}
	for _, h := range info.XHeaders {
		x[h.Name] = h.Value
	}
	port, _ := strconv.Atoi(info.URI.Port())
	return map[string]any{
		"peer_data": map[string]any{"address": info.PeerAddress, "port": info.PeerPort},
		"x_headers": x,
		"uri": map[string]any{
			"scheme": info.URI.Scheme, "host": info.URI.Hostname(), "port": port,
			"path": info.URI.Path, "query": info.URI.RawQuery,
		},
	}
}

func userID(assigns map[string]any) string {
	if uid, ok := assigns["user_id"].(string); ok && uid != "" {
		return "user_sockets:" + uid
	}
	return ""
}
