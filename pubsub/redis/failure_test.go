package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/redis"
)

// Log messages the tests count: one each per episode.
const (
	logUnreachable = "redis unreachable: broadcasts dropped"
	logQueueFull   = "redis publish queue full: broadcasts dropped"
	logResumed     = "redis publishing resumed"
	logLost        = "redis subscription connection lost, reconnecting"
	logRestored    = "redis subscription connection restored"
)

// probes numbers the probes of crosses, so that each is new.
var probes atomic.Int64

// crosses waits until the broadcasts of from on topic reach box, on
// another node, by broadcasting probes; it fails the test after 10 s.
func crosses(t *testing.T, from *pubsub.PubSub, topic string, box *inbox) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		probe := fmt.Sprintf("probe-%s-%d", from.Node(), probes.Add(1))
		broadcast(t, from, topic, probe)
		time.Sleep(20 * time.Millisecond)
		if box.count(probe) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broadcasts of %s on %q do not cross within 10 s", from.Node(), topic)
		}
	}
}

// countPrefix counts the messages whose event starts with prefix.
func (b *inbox) countPrefix(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.msgs {
		if strings.HasPrefix(m.Event, prefix) {
			n++
		}
	}
	return n
}

// Redis stops and starts again: local delivery goes on and broadcasts do
// not wait meanwhile, the drops are counted and logged once, and the
// nodes resubscribe, to the topics watched before and during the outage.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	logs := []*recorder{{}, {}}
	adapters := make([]*redis.Adapter, 2)
	for i := range adapters {
		adapters[i] = newAdapter(t, s, &redis.Options{
			Logger:              slog.New(logs[i]),
			PublishTimeout:      time.Second,
			HealthCheckInterval: time.Second,
			MaxReconnectDelay:   200 * time.Millisecond,
		})
	}
	a, b := startNode(t, "a", adapters[0]), startNode(t, "b", adapters[1])
	const before, during = "room:before", "room:during"
	aBefore, bBefore := subscribe(t, a, before), subscribe(t, b, before)
	crosses(t, a, before, bBefore)
	crosses(t, b, before, aBefore)

	s.kill()
	const n = 50
	for i := range n {
		start := time.Now()
		broadcast(t, a, before, fmt.Sprint("down-", i))
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("Broadcast %d took %v while Redis was down", i, d)
		}
	}
	if got := aBefore.countPrefix("down-"); got != n {
		t.Fatalf("a's subscriber got %d of the %d broadcasts made while Redis was down", got, n)
	}
	checkFor(t, 10*time.Second, "a counts its broadcasts as dropped", func() bool {
		return adapters[0].Stats().Dropped >= n
	})
	if st := adapters[0].Stats(); st.Dropped != n {
		t.Errorf("a dropped %d messages, want %d: %+v", st.Dropped, n, st)
	}
	// Watched during the outage.
	aDuring, bDuring := subscribe(t, a, during), subscribe(t, b, during)
	for i, l := range logs {
		checkFor(t, 10*time.Second, fmt.Sprint("node ", i, " notices the outage"), func() bool { return l.count(logLost) > 0 })
	}

	s.restart(t)
	crosses(t, a, before, bBefore)
	crosses(t, b, before, aBefore)
	crosses(t, a, during, bDuring)
	crosses(t, b, during, aDuring)
	if got := bBefore.countPrefix("down-"); got != 0 {
		t.Errorf("b got %d broadcasts dropped during the outage", got)
	}
	checkFor(t, 10*time.Second, "a logs the end of the drops", func() bool { return logs[0].count(logResumed) > 0 })
	for i, ad := range adapters {
		if st := ad.Stats(); st.Reconnects < 1 {
			t.Errorf("node %d: Stats %+v, want a reconnect", i, st)
		}
		if l := logs[i]; l.count(logLost) != 1 || l.count(logRestored) != 1 {
			t.Errorf("node %d logged the subscription outage %d times and its end %d times, want once each:\n%s",
				i, l.count(logLost), l.count(logRestored), strings.Join(l.lines(slog.LevelDebug+1), "\n"))
		}
		if warns := logs[i].lines(slog.LevelWarn); len(warns) > 2 {
			t.Errorf("node %d logged %d warnings for one outage:\n%s", i, len(warns), strings.Join(warns, "\n"))
		}
	}
	for i, l := range logs {
		t.Logf("node %d logged:\n%s\nstats %+v", i, strings.Join(l.lines(slog.LevelInfo), "\n"), adapters[i].Stats())
	}
	if l := logs[0]; l.count(logUnreachable) != 1 || l.count(logResumed) != 1 {
		t.Errorf("a logged the drops %d times and their end %d times, want once each:\n%s",
			l.count(logUnreachable), l.count(logResumed), strings.Join(l.lines(slog.LevelInfo), "\n"))
	}
}

// A frozen Redis (SIGSTOP: connections open, no answers) is found by the
// timeouts and health checks: broadcasts do not wait, direct broadcasts
// wait at most PublishTimeout, drops are counted and logged once, and
// everything resumes when Redis thaws.
func TestFrozenServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	log := &recorder{}
	const timeout = 300 * time.Millisecond
	ad := newAdapter(t, s, &redis.Options{
		Logger:              slog.New(log),
		PublishTimeout:      timeout,
		HealthCheckInterval: timeout,
		MaxReconnectDelay:   200 * time.Millisecond,
		QueueSize:           16,
	})
	a := startNode(t, "a", ad)
	b := startNode(t, "b", newAdapter(t, s, &redis.Options{HealthCheckInterval: timeout, PublishTimeout: timeout}))
	const topic = "room:frozen"
	local, remote := subscribe(t, a, topic), subscribe(t, b, topic)
	crosses(t, a, topic, remote)

	s.signal(t, syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			s.signal(t, syscall.SIGCONT)
		}
	}
	defer thaw()
	const n = 200
	for i := range n {
		start := time.Now()
		broadcast(t, a, topic, fmt.Sprint("frozen-", i))
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("Broadcast %d took %v while Redis was frozen", i, d)
		}
	}
	if got := local.countPrefix("frozen-"); got != n {
		t.Fatalf("a's subscriber got %d of %d broadcasts", got, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := a.DirectBroadcast(ctx, "b", &pubsub.Message{Topic: topic, Event: "direct", Payload: protocol.JSON([]byte(`{}`))})
	if d := time.Since(start); err == nil || d > 3*timeout {
		t.Errorf("DirectBroadcast to a frozen Redis: %v after %v, want an error within %v", err, d, timeout)
	}
	checkFor(t, 10*time.Second, "drops are counted", func() bool { return ad.Stats().Dropped > 0 })
	checkFor(t, 10*time.Second, "the health check finds the silent subscription", func() bool { return log.count(logLost) > 0 })
	thaw()

	crosses(t, a, topic, remote)
	checkFor(t, 10*time.Second, "a logs the end of the drops", func() bool { return log.count(logResumed) > 0 })
	checkFor(t, 10*time.Second, "a's subscription is restored", func() bool { return log.count(logRestored) > 0 })
	t.Logf("a logged:\n%s\nstats %+v", strings.Join(log.lines(slog.LevelInfo), "\n"), ad.Stats())
	if drops := log.count(logUnreachable) + log.count(logQueueFull); drops > 2 {
		t.Errorf("%d log lines about drops for one freeze:\n%s", drops, strings.Join(log.lines(slog.LevelInfo), "\n"))
	}
	if warns := log.lines(slog.LevelWarn); len(warns) > 4 {
		t.Errorf("%d warnings for one freeze:\n%s", len(warns), strings.Join(warns, "\n"))
	}
}

// A node that goes silent without a Shutdown (its PubSub closed under its
// presence tracker, as a crash would) leaves the other nodes' lists after
// the tracker's down period (30 s by default); the others' entries stay.
func TestPresenceNodeDeath(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	names := []string{"a", "b", "c"}
	nodes := make(map[string]*pubsub.PubSub)
	trackers := make(map[string]*presence.Tracker)
	for _, name := range names {
		nodes[name] = startNode(t, name, newAdapter(t, s, nil))
		tr, err := presence.New(nodes[name], &presence.Options{Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		trackers[name] = tr
		if _, err := tr.Track("conn-"+name, "room:1", "user-"+name, map[string]any{"node": name}); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(name string) []string {
		return slices.Sorted(maps.Keys(trackers[name].List(context.Background(), "room:1")))
	}
	all := []string{"user-a", "user-b", "user-c"}
	for _, name := range names {
		checkFor(t, 10*time.Second, "node "+name+" lists every node's entry", func() bool { return slices.Equal(keys(name), all) })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes["c"].Close(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	survivors := []string{"user-a", "user-b"}
	checkFor(t, 35*time.Second, "a and b drop c's entry", func() bool {
		for _, name := range []string{"a", "b"} {
			got := keys(name)
			if !slices.Contains(got, "user-a") || !slices.Contains(got, "user-b") {
				t.Fatalf("node %s lists %v: a surviving node's entry left", name, got)
			}
			if !slices.Equal(got, survivors) {
				return false
			}
		}
		return true
	})
	if d := time.Since(start); d < 20*time.Second {
		t.Errorf("c's entry left after %v, before the down period", d)
	}
	t.Logf("c's entry left the other nodes %v after it went silent", time.Since(start).Round(100*time.Millisecond))
}
