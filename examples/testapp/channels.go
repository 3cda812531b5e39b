package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/protocol"
)

// RoomChannel serves room:* (examples/testapp/README.md, "What it serves").
type RoomChannel struct{}

type afterJoin struct{ user any }

func (*RoomChannel) Join(_ context.Context, s *channel.Socket, _ string, payload protocol.Payload) (any, error) {
	var p struct {
		Reject any `json:"reject"`
		User   any `json:"user"`
	}
	if !payload.IsBinary() {
		_ = json.Unmarshal(payload.Bytes(), &p)
	}
	if p.Reject == true {
		return nil, channel.Refuse(map[string]string{"reason": "rejected"})
	}
	s.Send(afterJoin{user: p.User})
	return nil, nil
}

func (*RoomChannel) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	aj, ok := msg.(afterJoin)
	if !ok {
		return nil
	}
	if err := s.Broadcast(ctx, "user_entered", map[string]any{"user": aj.user}); err != nil {
		return err
	}
	joined := map[string]any{"status": "connected", "user_id": s.Assigns["user_id"]}
	if ci, ok := s.Assigns["connect_info"]; ok {
		joined["connect_info"] = ci
	}
	return s.Push("joined", joined)
}

func (*RoomChannel) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "new_msg":
		if err := s.Broadcast(ctx, "new_msg", in.Payload); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	case "shout":
		return s.Broadcast(ctx, "shout", in.Payload)
	case "shout_from":
		// Everyone but this client gets it as a shout.
		return s.BroadcastFrom(ctx, "shout", in.Payload)
	case "echo":
		return in.Reply("ok", in.Payload)
	case "error":
		return in.Reply("error", map[string]string{"reason": "requested"})
	case "async":
		ref, payload := in.ReplyRef(), in.Payload
		time.AfterFunc(10*time.Millisecond, func() { _ = ref.Reply("ok", payload) })
		return nil
	case "boom":
		panic("boom requested")
	case "stop":
		return channel.ErrStop
	}
	return fmt.Errorf("no clause matching event %q", in.Event)
}

func (*RoomChannel) Intercept() []string { return []string{"new_msg"} }

// HandleOut adds the subscriber's transport to new_msg.
func (*RoomChannel) HandleOut(_ context.Context, s *channel.Socket, event string, payload protocol.Payload) error {
	var m map[string]any
	if err := json.Unmarshal(payload.Bytes(), &m); err != nil {
		return err
	}
	m["transport"] = s.Transport()
	return s.Push(event, m)
}

func (*RoomChannel) Terminate(_ context.Context, s *channel.Socket, _ error) {
	_ = s.Push("you_left", map[string]string{"message": "bye!"})
}

// BenchChannel serves bench:*, for load tests: no after-join work.
type BenchChannel struct{}

func (*BenchChannel) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (*BenchChannel) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "shout":
		return s.Broadcast(ctx, "shout", in.Payload)
	case "echo":
		return in.Reply("ok", in.Payload)
	}
	return fmt.Errorf("no clause matching event %q", in.Event)
}
