package longpoll_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/internal/workq"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var discard = slog.New(slog.DiscardHandler)

// group returns a Group for a test's sessions; the test fails if its
// goroutines are still running 5 s after the test.
func group(t *testing.T) *workq.Group {
	g := &workq.Group{}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Wait(ctx); err != nil {
			t.Errorf("session goroutines still running: %v", err)
		}
	})
	return g
}
