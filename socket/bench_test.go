package socket_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/pyrehq/pyre/internal/wstest"
)

// Benchmarks over one real WebSocket connection on loopback. Each op is a
// full round trip, so ns/op is latency; allocs/op counts the client (this
// process) as well as the server.

// BenchmarkEcho pushes "echo" and waits for its reply.
func BenchmarkEcho(b *testing.B) {
	s := newServer(b, nil)
	m := modes[1]
	c := s.dial(b, m, "")
	joinOK(b, c, m, "room:bench", "")
	frame := wstest.Encode(false, c.JoinRef("room:bench"), "2", "room:bench", "echo", `{"body":"hello, world"}`)
	want := []byte(`"phx_reply"`)
	b.ReportAllocs()
	for b.Loop() {
		c.SendText(frame)
		f, ok := c.Next(wstest.Timeout)
		if !ok || !bytes.Contains(f.Data, want) {
			b.Fatalf("no echo reply: %q", f.Data)
		}
	}
}

// BenchmarkJoinLeave joins a topic and leaves it: three frames back (the
// join reply, the leave reply and phx_close).
func BenchmarkJoinLeave(b *testing.B) {
	s := newServer(b, nil)
	m := modes[1]
	c := s.dial(b, m, "")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		jr := strconv.Itoa(1000 + i)
		c.SendText(wstest.Encode(false, jr, jr, "bare:bench", "phx_join", `{}`))
		c.SendText(wstest.Encode(false, jr, "l"+jr, "bare:bench", "phx_leave", `{}`))
		for range 3 {
			if _, ok := c.Next(wstest.Timeout); !ok {
				b.Fatal("missing frame")
			}
		}
	}
	// The last op really joined and left.
	heartbeat(b, c)
}
