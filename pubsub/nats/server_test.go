package nats_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notFound is the failure when nats-server is not installed: the tests
// that need it fail, they never skip.
const notFound = "nats-server not found: apt-get install -y nats-server"

// server is a nats-server process for the tests, on a loopback port, with
// max_payload raised to 8 MB so that 1 MiB messages pass.
type server struct {
	bin  string
	dir  string // Holds the config and the log; removed by stop.
	port int
	cmd  *exec.Cmd // nil while stopped.
}

// startServer starts nats-server on a free loopback port and waits until
// it accepts connections.
func startServer() (*server, error) {
	bin, err := findServer()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pyre-nats-test-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{bin: bin, dir: dir, port: port}
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8MB\n", port)
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// findServer looks for nats-server in PATH, then where Debian puts it
// (/usr/sbin, outside the PATH of many users).
func findServer() (string, error) {
	if bin, err := exec.LookPath("nats-server"); err == nil {
		return bin, nil
	}
	for _, bin := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	return "", errors.New(notFound)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// url returns the server's client URL.
func (s *server) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server (again, on the same port) and waits, for at most
// 10 s, until it accepts connections.
func (s *server) start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "nats.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // The child has its own descriptor.
	cmd := exec.Command(s.bin, "-c", filepath.Join(s.dir, "nats.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting nats-server: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			out, _ := os.ReadFile(filepath.Join(s.dir, "nats.log"))
			return fmt.Errorf("nats-server does not accept connections on port %d after 10s: %v\n%s", s.port, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server abruptly, as a crash would, and waits for it.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// pause and resume freeze and thaw the server (SIGSTOP, SIGCONT): its
// connections stay open but nothing is read from them, as with a stalled
// network.
func (s *server) pause()  { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *server) resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// stop kills the server and removes its files.
func (s *server) stop() {
	if s.cmd != nil {
		s.resume() // A paused process dies of SIGKILL too, but be tidy.
	}
	s.kill()
	_ = os.RemoveAll(s.dir)
}

// newServer starts a server of the test's own, stopped when it ends.
func newServer(t testing.TB) *server {
	t.Helper()
	s, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// shared is the server most tests use, each under its own subject prefix;
// TestMain stops it.
var shared struct {
	once sync.Once
	srv  *server
	err  error
}

// sharedURL returns the URL of the shared server, started on first use.
func sharedURL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = startServer() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv.url()
}
