package prometheus_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// seriesNames are the families of a collector, in the order of the docs.
var seriesNames = []string{
	"pyre_connections", "pyre_channels", "pyre_connects_total", "pyre_connect_duration_seconds",
	"pyre_disconnects_total", "pyre_messages_in_total", "pyre_messages_out_total",
	"pyre_bytes_in_total", "pyre_bytes_out_total", "pyre_broadcasts_total", "pyre_cuts_total",
	"pyre_decode_errors_total", "pyre_channel_crashes_total", "pyre_joins_total",
	"pyre_join_duration_seconds", "pyre_handle_in_duration_seconds", "pyre_longpoll_sessions",
	"pyre_rate_limit_episodes_total",
}

// The series of the label values the core uses exist from the start, and
// pass promlint.
func TestNewSeries(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	reg := newRegistry(t, col)
	for _, tc := range []struct {
		name string
		want int
	}{
		{"pyre_connections", 2},
		{"pyre_connects_total", 6},             // 2 transports × accepted, refused, unavailable.
		{"pyre_disconnects_total", 20},         // 2 transports × 10 close reasons.
		{"pyre_rate_limit_episodes_total", 8},  // 2 transports × 2 limits × 2 actions.
		{"pyre_cuts_total", 4},                 // 2 transports × slow consumer, stalled.
		{"pyre_joins_total", 5},                // ok, error, crashed, unmatched, too_many.
		{"pyre_join_duration_seconds", 3},      // ok, error, crashed: Join ran.
		{"pyre_channel_crashes_total", 5},      // The five callbacks.
		{"pyre_handle_in_duration_seconds", 1}, // No event label.
		{"pyre_longpoll_sessions", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.CollectAndCount(col, tc.name); got != tc.want {
				t.Errorf("%d series, want %d", got, tc.want)
			}
		})
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if want := slices.Sorted(slices.Values(seriesNames)); !slices.Equal(names, want) {
		t.Errorf("families:\n%v\nwant\n%v", names, want)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestHooksIsTheSameValue(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	h := col.Hooks()
	if h == nil || col.Hooks() != h {
		t.Fatal("Hooks returns a different value")
	}
	if h.Connect == nil || h.Disconnect == nil || h.Join == nil || h.Leave == nil || h.HandleIn == nil ||
		h.Broadcast == nil || h.Cut == nil || h.DecodeError == nil || h.ChannelCrash == nil ||
		h.LongPollSession == nil || h.RateLimited == nil || h.FramesIn == nil || h.FramesOut == nil {
		t.Fatalf("a hook is nil: %+v", h)
	}
}

// Namespace, ConstLabels and the buckets apply; the Options given are
// not changed.
func TestOptions(t *testing.T) {
	t.Parallel()
	opts := &pyreprom.Options{
		Namespace:     "chat",
		ConstLabels:   prometheus.Labels{"app": "chat"},
		HandleBuckets: []float64{.001, .01},
	}
	before := *opts
	col := pyreprom.New(opts)
	if opts.Namespace != before.Namespace || opts.JoinBuckets != nil || len(opts.ConstLabels) != 1 {
		t.Fatalf("New changed its Options: %+v", opts)
	}
	col.Hooks().HandleIn(telemetry.HandleInEvent{Transport: "websocket", Event: "e", Duration: 5 * time.Millisecond})
	err := testutil.CollectAndCompare(col, strings.NewReader(`
# HELP chat_handle_in_duration_seconds Duration of the channels' HandleIn callbacks (one per client push).
# TYPE chat_handle_in_duration_seconds histogram
chat_handle_in_duration_seconds_bucket{app="chat",le="0.001"} 0
chat_handle_in_duration_seconds_bucket{app="chat",le="0.01"} 1
chat_handle_in_duration_seconds_bucket{app="chat",le="+Inf"} 1
chat_handle_in_duration_seconds_sum{app="chat"} 0.005
chat_handle_in_duration_seconds_count{app="chat"} 1
`), "chat_handle_in_duration_seconds")
	if err != nil {
		t.Error(err)
	}
}

// Options that prometheus rejects make Register fail, not New.
func TestRegisterRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts pyreprom.Options
	}{
		{"label of the collector's own", pyreprom.Options{ConstLabels: prometheus.Labels{"transport": "x"}}},
		{"reserved label name", pyreprom.Options{ConstLabels: prometheus.Labels{"__x": "y"}}},
		{"label value not UTF-8", pyreprom.Options{ConstLabels: prometheus.Labels{"app": "\xff"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := prometheus.NewRegistry().Register(pyreprom.New(&tc.opts)); err == nil {
				t.Fatal("Register accepted the collector")
			}
		})
	}
}

// Two collectors need two namespaces in one registry.
func TestTwoCollectorsInOneRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if err := reg.Register(pyreprom.New(nil)); err != nil {
		t.Fatal(err)
	}
	var already prometheus.AlreadyRegisteredError
	if err := reg.Register(pyreprom.New(nil)); !errors.As(err, &already) {
		t.Fatalf("second collector: %v, want AlreadyRegisteredError", err)
	}
	if err := reg.Register(pyreprom.New(&pyreprom.Options{Namespace: "other"})); err != nil {
		t.Fatal(err)
	}
}

// HandleInEvents gives the listed events a series each and the others
// "other"; without it there is no event label.
func TestHandleInEvents(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(&pyreprom.Options{HandleInEvents: []string{"new_msg", "typing"}})
	reg := newRegistry(t, col)
	h := col.Hooks()
	for _, e := range []string{"new_msg", "new_msg", "typing", "evil-1", "evil-2", "evil-3"} {
		h.HandleIn(telemetry.HandleInEvent{Transport: "websocket", Topic: "room:1", Event: e, Duration: time.Microsecond})
	}
	for event, want := range map[string]float64{"new_msg": 2, "typing": 1, "other": 3} {
		if got := value(t, reg, "pyre_handle_in_duration_seconds", "event="+event); got != want {
			t.Errorf("event %s: %v, want %v", event, got, want)
		}
	}
	if got := testutil.CollectAndCount(col, "pyre_handle_in_duration_seconds"); got != 3 {
		t.Errorf("%d series, want 3", got)
	}
}

// Values the core does not use today (a newer core, a bug) get series of
// their own up to a bound, then count as "other".
func TestLabelValuesAreBounded(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	reg := newRegistry(t, col)
	h := col.Hooks()
	for i := range 100 {
		reason := transport.CloseReason{Code: 4000, Reason: "reason " + strconv.Itoa(i)}
		h.Disconnect(telemetry.DisconnectEvent{Transport: "websocket", Reason: reason})
		h.Cut(telemetry.CutEvent{Transport: "websocket", Reason: reason})
		h.ChannelCrash(telemetry.ChannelCrashEvent{Callback: "Callback" + strconv.Itoa(i)})
		h.Join(telemetry.JoinEvent{Transport: "websocket", Status: "status " + strconv.Itoa(i)})
	}
	for _, tc := range []struct {
		name  string
		known int // Series made by New.
	}{
		{"pyre_disconnects_total", 20},
		{"pyre_cuts_total", 4},
		{"pyre_channel_crashes_total", 5},
		{"pyre_joins_total", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 16 more values, and "other", for each label (or pair).
			if got, max := testutil.CollectAndCount(col, tc.name), tc.known+17; got != max {
				t.Errorf("%d series, want %d", got, max)
			}
		})
	}
	if got := value(t, reg, "pyre_disconnects_total", "transport=websocket", "reason=other"); got != 100-16 {
		t.Errorf("other disconnects: %v, want %v", got, 100-16)
	}
	if got := value(t, reg, "pyre_disconnects_total", "transport=websocket", "reason=reason 3"); got != 1 {
		t.Errorf("disconnects of a new reason: %v, want 1", got)
	}

	// Transports are bound tighter: each has every series of a transport.
	col = pyreprom.New(nil)
	reg = newRegistry(t, col)
	for i := range 100 {
		col.Hooks().FramesIn(telemetry.FramesEvent{Transport: "transport" + strconv.Itoa(i), Frames: 1, Bytes: 10})
	}
	if got, want := testutil.CollectAndCount(col, "pyre_messages_in_total"), 2+4+1; got != want {
		t.Errorf("%d transports, want %d", got, want)
	}
	if got := value(t, reg, "pyre_messages_in_total", "transport=other"); got != 100-4 {
		t.Errorf("frames of other transports: %v, want %v", got, 100-4)
	}
}

// The hooks are called from many goroutines at once, while the registry
// is scraped.
func TestConcurrentHooks(t *testing.T) {
	t.Parallel()
	col := pyreprom.New(nil)
	reg := newRegistry(t, col)
	h := col.Hooks()
	const goroutines, calls = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		tr := []string{"websocket", "longpoll", "sse"}[g%3]
		wg.Go(func() {
			for range calls {
				h.Connect(telemetry.ConnectEvent{Transport: tr, Status: 101})
				h.FramesOut(telemetry.FramesEvent{Transport: tr, Frames: 2, Bytes: 100})
				h.Join(telemetry.JoinEvent{Transport: tr, Status: telemetry.JoinOK, Duration: time.Millisecond})
				h.Leave(telemetry.LeaveEvent{Transport: tr})
				h.Disconnect(telemetry.DisconnectEvent{Transport: tr, Reason: transport.CloseNormal})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pyre_joins_total", []string{"status=ok"}, goroutines * calls},
		{"pyre_connections", []string{"transport=websocket"}, 0},
		{"pyre_channels", []string{"transport=sse"}, 0},
		{"pyre_disconnects_total", []string{"transport=sse", "reason=closed"}, 2 * calls},
	} {
		if got := value(t, reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	var frames float64
	for _, tr := range []string{"websocket", "longpoll", "sse"} {
		frames += value(t, reg, "pyre_messages_out_total", "transport="+tr)
	}
	if frames != 2*goroutines*calls {
		t.Errorf("frames out: %v, want %v", frames, 2*goroutines*calls)
	}
}

// No hook allocates, once its label values have been seen.
func TestHooksDoNotAllocate(t *testing.T) {
	col := pyreprom.New(&pyreprom.Options{HandleInEvents: []string{"new_msg"}})
	h := col.Hooks()
	all := func() {
		h.Connect(telemetry.ConnectEvent{Transport: "websocket", Vsn: "2.0.0", Status: 101, Duration: time.Millisecond})
		h.Connect(telemetry.ConnectEvent{Transport: "longpoll", Status: 403})
		h.FramesIn(telemetry.FramesEvent{Transport: "websocket", Frames: 1, Bytes: 60})
		h.FramesOut(telemetry.FramesEvent{Transport: "longpoll", Frames: 3, Bytes: 200})
		h.Join(telemetry.JoinEvent{Transport: "websocket", Topic: "room:1", Status: telemetry.JoinOK, Duration: time.Millisecond})
		h.HandleIn(telemetry.HandleInEvent{Transport: "websocket", Topic: "room:1", Event: "new_msg", Duration: time.Microsecond})
		h.HandleIn(telemetry.HandleInEvent{Transport: "websocket", Topic: "room:1", Event: "typing", Duration: time.Microsecond})
		h.Broadcast(telemetry.BroadcastEvent{Topic: "room:1", Event: "new_msg"})
		h.ChannelCrash(telemetry.ChannelCrashEvent{Transport: "websocket", Callback: "HandleIn"})
		h.Leave(telemetry.LeaveEvent{Transport: "websocket", Topic: "room:1", Reason: errors.ErrUnsupported})
		h.DecodeError(telemetry.DecodeErrorEvent{Transport: "websocket"})
		h.Cut(telemetry.CutEvent{Transport: "websocket", Reason: transport.CloseStalled})
		h.Disconnect(telemetry.DisconnectEvent{Transport: "websocket", Reason: transport.CloseStalled})
		h.LongPollSession(telemetry.LongPollSessionEvent{Started: true})
		h.LongPollSession(telemetry.LongPollSessionEvent{Reason: transport.CloseInactive})
		h.RateLimited(telemetry.RateLimitEvent{Transport: "websocket", Limit: "joins", Closed: true})
	}
	if n := testing.AllocsPerRun(100, all); n != 0 {
		t.Errorf("%v allocations for one call of each hook, want 0", n)
	}
}
