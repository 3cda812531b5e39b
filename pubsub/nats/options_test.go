package nats

import (
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 100 * time.Millisecond, 125 * time.Millisecond},
		{2, 200 * time.Millisecond, 250 * time.Millisecond},
		{5, 1600 * time.Millisecond, 2000 * time.Millisecond},
		{6, 2 * time.Second, 2500 * time.Millisecond},
		{1000, 2 * time.Second, 2500 * time.Millisecond},
	} {
		for range 20 {
			if d := backoff(tc.attempt); d < tc.min || d > tc.max {
				t.Errorf("backoff(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.min, tc.max)
			}
		}
	}
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	got := redactURLs("nats://u:secret@h1:4222, nats://h2:4222,tls://tok@h3")
	if strings.Contains(got, "secret") || strings.Contains(got, "tok") || !strings.Contains(got, "h1:4222") || !strings.Contains(got, "nats://h2:4222") {
		t.Errorf("redactURLs = %q", got)
	}
}
