package nats_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	pubsubnats "github.com/pyrehq/pyre/pubsub/nats"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// records returns the records at level or above whose message starts
// with prefix.
func (h *logRecorder) records(level slog.Level, prefix string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.recs {
		if r.Level >= level && strings.HasPrefix(r.Message, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// dump returns the records at Info or above, for a failure message.
func (h *logRecorder) dump() string {
	var b strings.Builder
	for _, r := range h.records(slog.LevelInfo, "") {
		fmt.Fprintf(&b, "\n  %s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
	}
	return b.String()
}

// checkOneEpisode checks that h logged one episode of lost broadcasts:
// one warning, starting with warn, when it started, and one summary, end,
// when it ended, and nothing else at Warn or above.
func checkOneEpisode(t *testing.T, who string, h *logRecorder, warn, end string, dropped uint64) {
	t.Helper()
	warns := h.records(slog.LevelWarn, "")
	ends := h.records(slog.LevelInfo, end)
	if len(warns) != 1 || !strings.HasPrefix(warns[0].Message, warn) || len(ends) != 1 {
		t.Errorf("%s logged %d warnings and %d %q, want one %q and one %q:%s", who, len(warns), len(ends), end, warn, end, h.dump())
		return
	}
	var got uint64
	ends[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "dropped" {
			got = a.Value.Uint64()
		}
		return true
	})
	if got != dropped {
		t.Errorf("%s's outage summary says %d broadcasts dropped, its Stats %d", who, got, dropped)
	}
}

// NATS stops and comes back: meanwhile local delivery goes on and
// broadcasts do not wait; then the nodes reconnect, resubscribe (their
// node subjects, the topics watched before and during the outage) and
// reach each other again, both ways. Each node logs the outage once.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	prefix := newPrefix()
	logs := map[string]*logRecorder{"a": {}, "b": {}}
	opts := func(name string) *pubsubnats.Options {
		return &pubsubnats.Options{
			Logger: slog.New(logs[name]),
			NATS:   []nats.Option{nats.ReconnectBufSize(256 << 10)}, // Small, so that the outage drops.
		}
	}
	a, b := startNode(t, s.url(), prefix, "a", opts("a")), startNode(t, s.url(), prefix, "b", opts("b"))
	const before, during = "room:before", "room:during"
	aBefore, bBefore := a.subscribe(t, before), b.subscribe(t, before)
	reaches(t, a, before, bBefore, "a's broadcasts reach b")
	reaches(t, b, before, aBefore, "b's broadcasts reach a")

	s.kill()
	eventually(t, waitFor, "both nodes see NATS go", func() bool {
		return !a.a.Stats().Connected && !b.a.Stats().Connected
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	payload := make([]byte, 16<<10)
	const n = 100 // 1.6 MB: past the reconnect buffer.
	for i := range n {
		start := time.Now()
		m := &pubsub.Message{Topic: before, Event: fmt.Sprint("down-", i), Payload: protocol.Binary(payload)}
		if err := a.Broadcast(ctx, m); err != nil {
			t.Fatalf("Broadcast while NATS is down: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Broadcast while NATS is down took %v", d)
		}
	}
	if got := aBefore.countPrefix("down-"); got != n {
		t.Errorf("a's local subscriber got %d of the %d broadcasts made while NATS was down", got, n)
	}
	eventually(t, waitFor, "a drops broadcasts past its reconnect buffer", func() bool { return a.a.Stats().Dropped > 0 })
	aDuring, bDuring := a.subscribe(t, during), b.subscribe(t, during)

	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "both nodes reconnect", func() bool {
		sa, sb := a.a.Stats(), b.a.Stats()
		return sa.Connected && sb.Connected && sa.Reconnects == 1 && sb.Reconnects == 1
	})
	reaches(t, a, before, bBefore, "after the restart, a's broadcasts on a topic watched before reach b")
	reaches(t, b, before, aBefore, "after the restart, b's broadcasts on a topic watched before reach a")
	reaches(t, a, during, bDuring, "after the restart, a's broadcasts on a topic watched during the outage reach b")
	reaches(t, b, during, aDuring, "after the restart, b's broadcasts on a topic watched during the outage reach a")
	for _, d := range []struct {
		from, to *node
		box      *inbox
	}{{a, b, bDuring}, {b, a, aDuring}} {
		if err := d.from.DirectBroadcast(ctx, d.to.Node(), msg(during, "direct")); err != nil {
			t.Fatalf("DirectBroadcast: %v", err)
		}
		eventually(t, waitFor, "a direct broadcast reaches "+d.to.Node(), func() bool { return d.box.count("direct") == 1 })
	}
	checkOneEpisode(t, "a", logs["a"], "nats unreachable", "nats reachable again", a.a.Stats().Dropped)
	checkOneEpisode(t, "b", logs["b"], "nats unreachable", "nats reachable again", 0)
	t.Logf("a's log:%s\nb's log:%s", logs["a"].dump(), logs["b"].dump())
}

// A stalled NATS server (frozen: the connection stays open, nothing is
// read) does not hold broadcasts up: once the socket buffers are full,
// they are dropped past MaxPending, the episode is logged once, and
// traffic resumes when the server does.
func TestStalledServer(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	prefix := newPrefix()
	logs := &logRecorder{}
	a := startNode(t, s.url(), prefix, "a", &pubsubnats.Options{Logger: slog.New(logs), MaxPending: 256 << 10})
	b := startNode(t, s.url(), prefix, "b", nil)
	const topic = "room"
	local, remote := a.subscribe(t, topic), b.subscribe(t, topic)
	reaches(t, a, topic, remote, "a's broadcasts reach b")

	s.pause()
	resumed := false
	defer func() {
		if !resumed {
			s.resume()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	// 20 MiB, more than the socket buffers hold: the writer is stuck on
	// the stalled socket, and the broadcasts that follow are dropped.
	payload := make([]byte, 32<<10)
	sent := 0
	for ; sent < 640 || a.a.Stats().Dropped < 100; sent++ {
		if sent == 5000 {
			t.Fatalf("%d dropped after 160 MB broadcast to a stalled server, want 100", a.a.Stats().Dropped)
		}
		start := time.Now()
		m := &pubsub.Message{Topic: topic, Event: fmt.Sprint("stalled-", sent), Payload: protocol.Binary(payload)}
		if err := a.Broadcast(ctx, m); err != nil {
			t.Fatalf("Broadcast to a stalled server: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Broadcast to a stalled server took %v", d)
		}
	}
	if got := local.countPrefix("stalled-"); got != sent {
		t.Errorf("a's local subscriber got %d of the %d broadcasts made while NATS was stalled", got, sent)
	}
	s.resume()
	resumed = true
	reaches(t, a, topic, remote, "a's broadcasts reach b once NATS resumes")
	eventually(t, waitFor, "a logs the end of the stall"+logs.dump(), func() bool {
		return len(logs.records(slog.LevelInfo, "nats caught up")) == 1
	})
	checkOneEpisode(t, "a", logs, "nats: dropping broadcasts", "nats caught up", a.a.Stats().Dropped)
	st := a.a.Stats()
	t.Logf("%d broadcasts of 32 KiB to a frozen server: %d dropped, %d published; a's log:%s", sent, st.Dropped, st.Published, logs.dump())
}
