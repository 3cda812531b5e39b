// Package netdelay is a TCP proxy for tests that delays the bytes a
// client sends to a server, as a slow network link would: a broker's
// adapter behind it sees its commands reach the broker late, while the
// other nodes of the test reach the broker directly. It listens on
// loopback only.
package netdelay

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards each connection made to Addr to the target, delaying
// every chunk the client sends by the delay; the server's bytes come back
// at once. Create it with [Start]; it stops when the test ends.
type Proxy struct {
	Addr string // host:port, on 127.0.0.1.

	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup

	mu     sync.Mutex // Protects the following.
	conns  map[net.Conn]struct{}
	closed bool
}

// Start starts a proxy to target that delays client bytes by delay, and
// stops it, closing every connection, when t ends.
func Start(t testing.TB, target string, delay time.Duration) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, target: target, delay: delay, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy: it stops accepting, closes every connection and
// waits for its goroutines. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.wg.Wait()
}

// track records c so that Close closes it; false once closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // Closed.
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !p.track(client) || !p.track(server) {
			_ = client.Close()
			_ = server.Close()
			return
		}
		// Either direction ending ends both: a reset seen by one side is
		// passed on to the other.
		end := func() {
			_ = client.Close()
			_ = server.Close()
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer end()
			p.delayed(server, client)
		}()
		go func() {
			defer p.wg.Done()
			defer end()
			_, _ = io.Copy(client, server)
		}()
	}
}

// chunk is bytes read from the client, and when.
type chunk struct {
	data []byte
	at   time.Time
}

// delayed copies from src to dst, each chunk delay after it was read, in
// order, until either side fails or closes.
func (p *Proxy) delayed(dst, src net.Conn) {
	chunks := make(chan chunk, 1024)
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		for c := range chunks {
			if wait := time.Until(c.at.Add(p.delay)); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := dst.Write(c.data); err != nil {
				_ = src.Close() // Ends the reader below, which closes chunks.
				for range chunks {
				}
				return
			}
		}
	}()
	defer close(chunks)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunks <- chunk{data: append([]byte(nil), buf[:n]...), at: time.Now()}
		}
		if err != nil {
			return
		}
	}
}
