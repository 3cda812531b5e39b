package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// presenceWindow is the tracker's DiffWindow (0: its default), set by the
// -presencewindow flag to measure others.
var presenceWindow time.Duration

// newPresence is the app's presence tracker, shared by every mount as the
// PubSub is.
func newPresence(ps *pubsub.PubSub, logger *slog.Logger) *presence.Tracker {
	tr, err := presence.New(ps, &presence.Options{Logger: logger, DiffWindow: presenceWindow})
	if err != nil {
		panic(err) // The options are valid: DiffWindow may be any duration.
	}
	return tr
}

// presenceChannel is the constructor of the presence:* route.
func presenceChannel(tr *presence.Tracker) func() channel.Handler {
	return func() channel.Handler { return &PresenceChannel{presence: tr} }
}

// PresenceChannel serves presence:* (examples/testapp/README.md): each joined
// client is tracked under its name, and sees everyone else through
// presence_state and presence_diff.
type PresenceChannel struct {
	presence *presence.Tracker
	key      string
}

// trackMe is the after-join message: pushes wait until the join reply.
type trackMe struct{}

// Join picks the key: payload.name, else the socket's user_id, else
// "anonymous".
func (c *PresenceChannel) Join(_ context.Context, s *channel.Socket, _ string, payload protocol.Payload) (any, error) {
	var p struct {
		Name any `json:"name"`
	}
	if !payload.IsBinary() {
		_ = json.Unmarshal(payload.Bytes(), &p)
	}
	c.key = presenceKey(p.Name, s.Assigns["user_id"])
	s.Send(trackMe{})
	return nil, nil
}

// presenceKey is the first non-empty string (or number) of the
// candidates, as a string, or "anonymous".
func presenceKey(candidates ...any) string {
	for _, v := range candidates {
		switch v := v.(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return "anonymous"
}

// HandleInfo tracks the client and pushes presence_state, in Phoenix's
// order: presence_state first, then the diff of its own join. The entry
// is untracked when the channel ends, whatever the reason.
func (c *PresenceChannel) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	if _, ok := msg.(trackMe); !ok {
		return nil
	}
	_, err := c.presence.TrackAndPushState(ctx, s, c.key, map[string]any{"online_at": time.Now().UnixMilli()})
	return err
}

// HandleIn handles update: the payload is merged into the caller's meta,
// online_at kept, and everyone gets the change as one diff.
func (c *PresenceChannel) HandleIn(_ context.Context, s *channel.Socket, in *channel.Message) error {
	if in.Event != "update" {
		return fmt.Errorf("no clause matching event %q", in.Event)
	}
	var changes map[string]any
	if in.Payload.IsBinary() || json.Unmarshal(in.Payload.Bytes(), &changes) != nil {
		return in.Reply("error", map[string]string{"reason": "payload must be an object"})
	}
	_, err := c.presence.UpdateSocketFunc(s, c.key, func(old map[string]any) map[string]any {
		next := make(map[string]any, len(old)+len(changes))
		maps.Copy(next, old)
		maps.Copy(next, changes)
		next["online_at"] = old["online_at"]
		return next
	})
	if err != nil {
		return in.Reply("error", map[string]string{"reason": err.Error()})
	}
	return in.Reply("ok", nil)
}
