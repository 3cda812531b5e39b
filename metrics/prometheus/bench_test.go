package prometheus_test

import (
	"testing"
	"time"

	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
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
