package broker

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	ps, err := New(context.Background(), "", "solo", logger)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Node() != "solo" {
		t.Fatalf("node %q", ps.Node())
	}
	_ = ps.Close(context.Background())

	for _, bad := range []string{"http://x:1", "mqtt://x:1", "::nope"} {
		if _, err := New(context.Background(), bad, "", logger); err == nil || !strings.Contains(err.Error(), "-pubsub") {
			t.Errorf("New(%q): %v, want an error naming -pubsub", bad, err)
		}
	}
}
