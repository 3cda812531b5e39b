package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pyrehq/pyre/internal/loadgen"
	"github.com/pyrehq/pyre/pubsub"
)

// TestPyrebench runs every command of the load tool (internal/loadgen,
// built as internal/cmd/pyrebench) against the app in this process, with
// tiny parameters, so that the tool of docs/benchmarks.md keeps working
// with the app it measures. The server figures are this process's.
func TestPyrebench(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(ps, nil, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(withPprof(app)) // lp-sessions -live reads /debug/pprof/heap
	t.Cleanup(func() {
		_ = app.Shutdown(context.Background())
		hs.Close()
	})
	common := []string{"-url", hs.URL, "-pid", strconv.Itoa(os.Getpid()), "-json", "-hb", "0", "-quiet", "100ms"}
	tests := []struct {
		name string
		args []string
		want map[string]float64 // figures that must be exactly so
	}{
		{"conns", []string{"conns", "-n", "20", "-topics", "4", "-hold", "0s"},
			map[string]float64{"connected": 20, "dropped_during_hold": 0}},
		{"broadcast", []string{"broadcast", "-n", "5", "-msgs", "10"},
			map[string]float64{"delivered": 50, "lost": 0, "latency_count": 50}},
		{"broadcast via http", []string{"broadcast", "-n", "5", "-msgs", "10", "-via", "http", "-rate", "100"},
			map[string]float64{"delivered": 50, "lost": 0}},
		{"echo", []string{"echo", "-c", "2", "-d", "300ms"},
			map[string]float64{"failures": 0, "mismatched_replies": 0}},
		{"shootout", []string{"shootout", "-step", "5", "-max", "10", "-s", "8", "-c", "2", "-prefix", "bench:"},
			map[string]float64{"best_clients": 10}},
		{"presence", []string{"presence", "-n", "10"},
			map[string]float64{"converged_clients": 10, "presence_state_frames": 10, "bad_payloads": 0}},
		{"lp-latency", []string{"lp-latency", "-n", "5"}, nil},
		{"lp-sessions", []string{"lp-sessions", "-n", "5", "-hold", "200ms", "-live"},
			map[string]float64{"sessions": 5, "failures": 0, "polls_in_flight": 5}},
		// The app cuts a client that takes nothing for 4 s (the stall cut).
		{"slow", []string{"slow", "-n", "3", "-k", "1", "-rate", "100", "-d", "1s", "-linger", "8s"},
			map[string]float64{"lost": 0, "control_lost": 0, "slow_closed_by_server": 1}},
		{"stall", []string{"stall", "-wait", "15s"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs strings.Builder
			if rc := loadgen.Run(append(tt.args, common...), &out, &errs); rc != 0 {
				t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", rc, out.String(), errs.String())
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
				t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
			}
			if res["ok"] != true || res["cmd"] != tt.args[0] {
				t.Fatalf("ok = %v, cmd = %v", res["ok"], res["cmd"])
			}
			for k, want := range tt.want {
				if got, _ := res[k].(float64); got != want {
					t.Errorf("%s = %v, want %v", k, res[k], want)
				}
			}
			if _, ok := res["server_cpu_s"].(float64); !ok {
				t.Errorf("no server_cpu_s: %v", res["server_cpu_s"])
			}
		})
	}
}
