package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/internal/loadgen"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestLoadgen runs the load tool's commands that bare serves against it,
// with tiny parameters: bare stays a server the tool can measure.
func TestLoadgen(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(newServer(32))
	defer hs.Close()
	common := []string{"-url", hs.URL, "-pid", strconv.Itoa(os.Getpid()), "-json", "-hb", "0", "-quiet", "100ms"}
	tests := []struct {
		name string
		args []string
		want map[string]float64
	}{
		{"conns", []string{"conns", "-n", "20", "-hold", "0s"}, map[string]float64{"connected": 20}},
		{"broadcast", []string{"broadcast", "-n", "5", "-msgs", "10"}, map[string]float64{"delivered": 50, "lost": 0}},
		{"broadcast via http", []string{"broadcast", "-n", "5", "-msgs", "10", "-via", "http"}, map[string]float64{"lost": 0}},
		{"echo", []string{"echo", "-c", "2", "-d", "300ms"}, map[string]float64{"failures": 0}},
		{"shootout", []string{"shootout", "-step", "5", "-max", "10", "-s", "8"}, map[string]float64{"best_clients": 10}},
		// 60 kB messages fill the stalled client's kernel buffers, then its
		// queue of 32: bare closes it.
		{"slow", []string{"slow", "-n", "2", "-k", "1", "-rate", "100", "-d", "1s", "-size", "60000", "-linger", "5s", "-control=false"},
			map[string]float64{"lost": 0, "slow_closed_by_server": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs strings.Builder
			if rc := loadgen.Run(append(tt.args, common...), &out, &errs); rc != 0 {
				t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", rc, out.String(), errs.String())
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got, _ := res[k].(float64); got != want {
					t.Errorf("%s = %v, want %v", k, res[k], want)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(newServer(32))
	defer hs.Close()
	var out, errs strings.Builder
	// bare serves no presence: the join is refused and the run fails.
	rc := loadgen.Run([]string{"presence", "-n", "2", "-url", hs.URL, "-pid", "0", "-json", "-leave=false"}, &out, &errs)
	if rc != 1 || !strings.Contains(out.String(), "join refused") {
		t.Fatalf("presence against bare: exit %d, %s %s", rc, out.String(), errs.String())
	}
}
