package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pyrehq/pyre/channel"
	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/token"
)

// Chat serves the page, phoenix.js and the socket.
type Chat struct {
	mux      *http.ServeMux
	ps       *pubsub.PubSub
	socket   *socket.Server
	presence *presence.Tracker
}

// tokenSalt is the salt of the chat's user tokens (Phoenix.Token's).
const tokenSalt = "user socket"

// NewChat mounts the socket at /socket, the page at /, phoenix.js at
// /vendor/phoenix.mjs, the token endpoint at /token and the socket's
// Prometheus metrics at /metrics. Messages and presence go through ps,
// which may span several nodes; Shutdown closes it. secret signs the user
// tokens (Phoenix's secret_key_base): every node of a chat needs the same
// one, at least 20 bytes.
func NewChat(ps *pubsub.PubSub, logger *slog.Logger, secret []byte, staticDir, phoenixJS string) (*Chat, error) {
	signer, err := token.NewSigner(secret, tokenSalt, nil)
	if err != nil {
		return nil, err
	}
	tracker, err := presence.New(ps, &presence.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	metrics := pyreprom.New(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	s, err := socket.New(&socket.Options{
		PubSub: ps,
		Logger: logger,
		Hooks:  metrics.Hooks(),
		// The page gets a token from /token and connects with it, as a
		// Phoenix page gets one signed with Phoenix.Token: the name comes
		// from the token, which only this server (or a node sharing its
		// secret) can sign.
		Connect: func(_ context.Context, params socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			data, err := signer.Verify(params.Get("token"), &token.VerifyOptions{MaxAge: 24 * time.Hour})
			if err != nil {
				return nil, socket.ErrRefused
			}
			name, ok := data.(string)
			if !ok || !validName(name) {
				return nil, socket.ErrRefused
			}
			return map[string]any{"user": name}, nil
		},
	})
	if err != nil {
		_ = tracker.Shutdown(context.Background())
		return nil, err
	}
	s.Channel("room:*", func() channel.Handler { return &Room{presence: tracker} })
	mux := http.NewServeMux()
	mux.Handle("/socket/", s)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		// A real app signs the name of the user it has authenticated; the
		// demo signs the name the page asks for.
		name := strings.TrimSpace(r.FormValue("name"))
		if !validName(name) {
			http.Error(w, "a name of 1 to 32 characters, please", http.StatusBadRequest)
			return
		}
		t, err := signer.Sign(name, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": t})
	})
	mux.HandleFunc("GET /vendor/phoenix.mjs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, phoenixJS)
	})
	mux.Handle("/", http.FileServer(http.Dir(staticDir)))
	return &Chat{mux: mux, ps: ps, socket: s, presence: tracker}, nil
}

func (c *Chat) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Shutdown closes every socket, then stops the presence tracker and the
// PubSub.
func (c *Chat) Shutdown(ctx context.Context) error {
	return errors.Join(c.socket.Shutdown(ctx), c.presence.Shutdown(ctx), c.ps.Close(ctx))
}

// validName reports whether name may be a chat name.
func validName(name string) bool {
	return name != "" && utf8.RuneCountInString(name) <= 32
}

// Room is a chat room: every message pushed as new_msg is broadcast to the
// room with the sender's name, and everyone sees who is online.
type Room struct {
	presence *presence.Tracker
}

// trackMe is the after-join message: pushes wait for the join reply.
type trackMe struct{}

// Join accepts everyone.
func (*Room) Join(_ context.Context, s *channel.Socket, _ string, _ protocol.Payload) (any, error) {
	s.Send(trackMe{})
	return nil, nil
}

// HandleInfo tracks the user under their name (two tabs: two metas under
// one key) and pushes presence_state. The entry goes when the channel ends.
func (r *Room) HandleInfo(ctx context.Context, s *channel.Socket, _ any) error {
	user, _ := s.Assigns["user"].(string)
	_, err := r.presence.TrackAndPushState(ctx, s, user, map[string]any{"online_at": time.Now().UnixMilli()})
	return err
}

// HandleIn broadcasts new_msg {user, body}.
func (*Room) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	if in.Event != "new_msg" {
		return in.Reply("error", map[string]string{"reason": "unknown event"})
	}
	var msg struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(in.Payload.Bytes(), &msg); err != nil || strings.TrimSpace(msg.Body) == "" {
		return in.Reply("error", map[string]string{"reason": "empty message"})
	}
	if utf8.RuneCountInString(msg.Body) > 2000 {
		return in.Reply("error", map[string]string{"reason": "message too long"})
	}
	user, _ := s.Assigns["user"].(string)
	if err := s.Broadcast(ctx, "new_msg", map[string]string{"user": user, "body": msg.Body}); err != nil {
		return errors.Join(in.Reply("error", map[string]string{"reason": "broadcast failed"}), err)
	}
	return in.Reply("ok", nil)
}
