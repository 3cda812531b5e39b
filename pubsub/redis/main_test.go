package redis_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/redis"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var discard = slog.New(slog.DiscardHandler)

// server is a redis-server process of a test, on a loopback port of its
// own, stopped when the test ends.
type server struct {
	path string
	dir  string
	port int
	Addr string

	mu     sync.Mutex // Protects the following.
	cmd    *exec.Cmd
	exited chan struct{} // Closed when cmd has exited.
	out    *syncBuffer
}

// startServer starts a redis-server for t. It fails the test, never skips
// it, when redis-server is not installed.
func startServer(t testing.TB) *server {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: apt-get install -y redis-server")
	}
	s := &server{path: path, dir: t.TempDir()}
	for attempt := 1; ; attempt++ {
		s.port = freePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		err := s.run()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.kill)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run starts redis-server on s.port and waits until it answers PING.
func (s *server) run() error {
	out := &syncBuffer{}
	cmd := exec.Command(s.path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.out = cmd, exited, out
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pingRaw(s.Addr) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited:\n%s", s.port, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d does not answer:\n%s", s.port, out.String())
		}
	}
}

// pingRaw reports whether a Redis server answers PING at addr, without
// go-redis (which would log each failed dial).
func pingRaw(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// kill stops the server abruptly, as a crash would, and waits for it.
func (s *server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// restart starts the server again on the same port.
func (s *server) restart(t testing.TB) {
	t.Helper()
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
}

// signal sends sig to the server (SIGSTOP freezes it, SIGCONT thaws it).
func (s *server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// client returns a go-redis client of the server, closed when the test
// ends.
func (s *server) client(t testing.TB) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newAdapter returns an adapter on s with opts (nil: the defaults) and
// the server's address.
func newAdapter(t testing.TB, s *server, opts *redis.Options) *redis.Adapter {
	t.Helper()
	var o redis.Options
	if opts != nil {
		o = *opts
	}
	o.Redis = &goredis.Options{Addr: s.Addr}
	if o.Logger == nil {
		o.Logger = discard
	}
	a, err := redis.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// startNode starts a PubSub named name on adapter a, closed when the test
// ends.
func startNode(t testing.TB, name string, a *redis.Adapter) *pubsub.PubSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := pubsub.New(ctx, &pubsub.Options{Node: name, Adapter: a, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ps.Close(ctx); err != nil {
			t.Errorf("closing node %s: %v", name, err)
		}
	})
	return ps
}

// uniquePrefix returns a channel prefix of its own for a test, so that
// tests sharing a server do not see each other.
func uniquePrefix(t testing.TB) string {
	return "test-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// inbox is a subscriber that keeps the events it gets.
type inbox struct {
	mu   sync.Mutex
	msgs []*pubsub.Message
}

func (b *inbox) Deliver(m *pubsub.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) count(event string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.msgs {
		if m.Event == event {
			n++
		}
	}
	return n
}

func subscribe(t testing.TB, ps *pubsub.PubSub, topic string) *inbox {
	t.Helper()
	b := &inbox{}
	if _, err := ps.Subscribe(topic, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFor polls cond every 10 ms until it holds, for at most d, and
// fails the test with what otherwise.
func checkFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// lines returns the messages logged at level or above.
func (r *recorder) lines(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		if rec.Level >= level {
			out = append(out, rec.Level.String()+" "+rec.Message)
		}
	}
	return out
}

// count returns how many records have msg as their message.
func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Message == msg {
			n++
		}
	}
	return n
}
