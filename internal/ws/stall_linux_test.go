package ws_test

import (
	"testing"
	"time"

	"github.com/pyrehq/pyre/internal/ws"
	"github.com/pyrehq/pyre/transport"
)

// With the kernel measuring stalls, the socket has TCP_USER_TIMEOUT set
// to the stall timeout and keepalive off: Linux would otherwise reset a
// healthy idle connection when one keepalive probe is lost. With
// StallTimeout off, the listener's keepalive is left as it was.
func TestKernelStallSocketOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		stall    time.Duration
		wantUTO  time.Duration
		wantKeep bool
	}{
		{"stall on", testStall, testStall, false},
		{"stall off", -1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newWSServer(t, ws.Options{WebSocketOptions: transport.WebSocketOptions{StallTimeout: tc.stall, IdleTimeout: time.Minute}}, nil)
			_, conn := s.dial(t, nil)
			uto, keep, err := ws.SocketOptions(conn)
			if err != nil {
				t.Fatal(err)
			}
			if uto != tc.wantUTO || keep != tc.wantKeep {
				t.Fatalf("TCP_USER_TIMEOUT %v, SO_KEEPALIVE %v; want %v, %v", uto, keep, tc.wantUTO, tc.wantKeep)
			}
		})
	}
}
