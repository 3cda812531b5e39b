package prometheus_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/channeltest"
	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// The cost of one call of a hook, as a server makes it. FramesOut runs
// once per write batch of each connection, FramesIn once per frame,
// HandleIn once per client push: those are the hot paths.

func BenchmarkFramesOut(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	e := telemetry.FramesEvent{Transport: "websocket", Frames: 4, Bytes: 512}
	b.ReportAllocs()
	for b.Loop() {
		h.FramesOut(e)
	}
}

// Every connection's writer counts into the same counters.
func BenchmarkFramesOutParallel(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	e := telemetry.FramesEvent{Transport: "websocket", Frames: 4, Bytes: 512}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.FramesOut(e)
		}
	})
}

func BenchmarkFramesIn(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	e := telemetry.FramesEvent{Transport: "longpoll", Frames: 1, Bytes: 80}
	b.ReportAllocs()
	for b.Loop() {
		h.FramesIn(e)
	}
}

func BenchmarkHandleIn(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	e := telemetry.HandleInEvent{Transport: "websocket", SocketID: "user:1", Topic: "room:1", Event: "new_msg", Duration: 12 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		h.HandleIn(e)
	}
}

// With Options.HandleInEvents: one more map read.
func BenchmarkHandleInEvents(b *testing.B) {
	h := pyreprom.New(&pyreprom.Options{HandleInEvents: []string{"new_msg", "typing", "read"}}).Hooks()
	e := telemetry.HandleInEvent{Transport: "websocket", Topic: "room:1", Event: "typing", Duration: 12 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		h.HandleIn(e)
	}
}

func BenchmarkJoin(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	join := telemetry.JoinEvent{Transport: "websocket", Topic: "room:1", Status: telemetry.JoinOK, Duration: 40 * time.Microsecond}
	leave := telemetry.LeaveEvent{Transport: "websocket", Topic: "room:1"}
	b.ReportAllocs()
	for b.Loop() {
		h.Join(join)
		h.Leave(leave)
	}
}

func BenchmarkConnectDisconnect(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	connect := telemetry.ConnectEvent{Transport: "websocket", Vsn: "2.0.0", Status: 101, Duration: time.Millisecond}
	disconnect := telemetry.DisconnectEvent{Transport: "websocket", Reason: transport.CloseNormal, Connected: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		h.Connect(connect)
		h.Disconnect(disconnect)
	}
}

func BenchmarkBroadcast(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	e := telemetry.BroadcastEvent{Topic: "room:1", Event: "new_msg"}
	b.ReportAllocs()
	for b.Loop() {
		h.Broadcast(e)
	}
}

func BenchmarkChannelCrash(b *testing.B) {
	h := pyreprom.New(nil).Hooks()
	e := telemetry.ChannelCrashEvent{Transport: "websocket", Topic: "room:1", Callback: "HandleIn", Event: "new_msg"}
	b.ReportAllocs()
	for b.Loop() {
		h.ChannelCrash(e)
	}
}

// echoRoom replies to every push with its payload.
type echoRoom struct{}

func (echoRoom) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return nil, nil
}

func (echoRoom) HandleIn(_ context.Context, _ *channel.Socket, in *channel.Message) error {
	return in.Reply("ok", in.Payload)
}

// BenchmarkEcho is a push and its reply over a real loopback WebSocket,
// on a server without hooks and on one with the collector's: the
// difference in ns/op is what the collector adds to a round trip (the
// client's cost, in the same process, is the same in both).
func BenchmarkEcho(b *testing.B) {
	for _, bc := range []struct {
		name  string
		hooks *telemetry.Hooks
	}{
		{"hooks=none", nil},
		{"hooks=prometheus", pyreprom.New(nil).Hooks()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := socket.New(&socket.Options{Hooks: bc.hooks, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			srv.Channel("room:*", func() channel.Handler { return echoRoom{} })
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					b.Error(err)
				}
			})
			ch := channeltest.Connect(b, srv, nil, nil).Join("room:bench", nil)
			msg := map[string]string{"body": "hello, world"}
			b.ReportAllocs()
			for b.Loop() {
				ch.AssertReply(ch.Push("echo", msg), "ok", msg)
			}
		})
	}
}
