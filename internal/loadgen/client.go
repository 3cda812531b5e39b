package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// handler is called by a client's reader goroutine for each frame that is
// not a heartbeat reply, phx_error or phx_close; now is the arrival time
// on the run's clock. f points into the reader's buffer.
type handler func(c *client, f *frame, now int64)

// env is the client side of a run: the connections to one server, or to
// the nodes of a cluster, and the counters every command reports.
type env struct {
	wsURLs      []string // MOUNT/websocket?vsn=2.0.0 of each node
	httpBase    string   // the first node, for POST /broadcast
	srcIPs      []netip.Addr
	dialTimeout time.Duration
	hbInterval  time.Duration
	start       time.Time
	dialHTTP    *http.Client // for the websocket handshakes
	postHTTP    *http.Client // for POST /broadcast
	nextSrc     atomic.Uint64

	// nodeOf is the node of client i (default: i % nodes).
	nodeOf func(i int) int

	mu      sync.Mutex // Protects clients.
	clients []*client
	readers sync.WaitGroup

	frames     atomic.Int64 // frames handed to handlers (WaitQuiet watches it)
	drops      atomic.Int64 // connections that ended before closeAll
	chanErrors atomic.Int64 // phx_error and phx_close frames
	unparsed   atomic.Int64
	hbSent     atomic.Int64
	hbOK       atomic.Int64
	stopping   atomic.Bool
}

// client is one WebSocket connection with one joined topic (or none).
type client struct {
	e         *env
	idx, node int
	topic     string
	joinRef   string
	ref       atomic.Uint64
	ws        *websocket.Conn
	h         handler
	done      chan struct{} // closed when the reader goroutine ends
	dead      atomic.Bool

	// Owned by the reader goroutine (handlers), read after it ended.
	lastSeq int64   // the last message number seen, for out-of-order counts
	lat     []int64 // latencies recorded by the handler
}

func newEnv(c *common) (*env, error) {
	e := &env{dialTimeout: c.dialTimeout, hbInterval: c.hb, start: time.Now()}
	for _, base := range c.urls {
		u, err := url.Parse(base)
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(u.Host)
		if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
			return nil, fmt.Errorf("%s: only http://127.x.x.x:PORT URLs are allowed", base)
		}
		e.wsURLs = append(e.wsURLs, "ws://"+u.Host+strings.TrimRight(c.mount, "/")+"/websocket?vsn=2.0.0")
		if e.httpBase == "" {
			e.httpBase = "http://" + u.Host
		}
	}
	for i := 1; i <= min(max(c.srcIPs, 1), 254); i++ {
		e.srcIPs = append(e.srcIPs, netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}))
	}
	e.dialHTTP = &http.Client{Transport: &http.Transport{DialContext: e.dialer(0)}}
	e.postHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	e.nodeOf = func(i int) int { return i % len(e.wsURLs) }
	return e, nil
}

// now is the time since the run began, the clock of every timestamp.
func (e *env) now() int64 { return int64(time.Since(e.start)) }

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h): bind the
// source address now and pick the port at connect, per destination, so a
// source address is not limited to one ephemeral range for all servers.
const ipBindAddressNoPort = 24

// dialer returns a DialContext that spreads connections over the source
// addresses and, when rcvbuf > 0, sets SO_RCVBUF before connecting.
func (e *env) dialer(rcvbuf int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{}
		multi := len(e.srcIPs) > 1
		if multi {
			src := e.srcIPs[e.nextSrc.Add(1)%uint64(len(e.srcIPs))]
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if multi {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				}
				if rcvbuf > 0 && serr == nil {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
				}
			})
			return errors.Join(err, serr)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// connect dials client idx, joins topic ("": no join) with payload and
// waits for the ok reply; frames before it go to h. With h the client is
// then read by a goroutine of its own and registered for heartbeats and
// closeAll; without, nothing reads it (slow's stalled clients).
func (e *env) connect(ctx context.Context, idx int, topic string, payload []byte, h handler, hc *http.Client) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, e.dialTimeout)
	defer cancel()
	if hc == nil {
		hc = e.dialHTTP
	}
	node := e.nodeOf(idx)
	ws, _, err := websocket.Dial(ctx, e.wsURLs[node], &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(-1) // presence_state of thousands of keys
	c := &client{e: e, idx: idx, node: node, topic: topic, ws: ws, h: h, done: make(chan struct{}), lastSeq: -1}
	if topic != "" {
		if err := c.join(ctx, payload); err != nil {
			ws.CloseNow()
			return nil, err
		}
	}
	if h != nil {
		e.mu.Lock()
		e.clients = append(e.clients, c)
		e.mu.Unlock()
		e.readers.Add(1)
		go c.read()
	}
	return c, nil
}

func (c *client) nextRef() string { return strconv.FormatUint(c.ref.Add(1), 10) }

func (c *client) join(ctx context.Context, payload []byte) error {
	c.joinRef = c.nextRef()
	if err := c.ws.Write(ctx, websocket.MessageText, appendFrame(nil, c.joinRef, c.joinRef, c.topic, "phx_join", payload)); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("join: %w", err)
		}
		f, ok := parseFrame(b)
		if ok && string(f.event) == "phx_reply" && string(f.ref) == c.joinRef {
			if !replyOK(f.payload) {
				return fmt.Errorf("join refused: %.200s", f.payload)
			}
			return nil
		}
		if ok && c.h != nil {
			c.h(c, &f, c.e.now())
		}
	}
}

// push sends event on the client's topic and returns its ref.
func (c *client) push(event string, payload []byte) (string, error) {
	ref := c.nextRef()
	buf := appendFrame(make([]byte, 0, 64+len(payload)), c.joinRef, ref, c.topic, event, payload)
	return ref, c.ws.Write(context.Background(), websocket.MessageText, buf)
}

// read is the client's reader goroutine. A Background context keeps
// coder/websocket from arming a timer per read; kill ends it by closing
// the connection.
func (c *client) read() {
	defer c.e.readers.Done()
	defer close(c.done)
	buf := make([]byte, 0, 512)
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err == nil {
			buf, err = readAll(r, buf[:0])
		}
		if err != nil {
			if !c.e.stopping.Load() && c.dead.CompareAndSwap(false, true) {
				c.e.drops.Add(1)
			}
			c.dead.Store(true)
			return
		}
		c.deliver(buf, c.e.now())
		if cap(buf) > 64<<10 {
			buf = make([]byte, 0, 512)
		}
	}
}

func (c *client) deliver(b []byte, now int64) {
	f, ok := parseFrame(b)
	switch {
	case !ok:
		c.e.unparsed.Add(1)
	case string(f.topic) == "phoenix":
		if string(f.event) == "phx_reply" && replyOK(f.payload) {
			c.e.hbOK.Add(1)
		}
	case string(f.event) == "phx_error" || string(f.event) == "phx_close":
		c.e.chanErrors.Add(1)
		c.e.frames.Add(1)
	default:
		c.e.frames.Add(1)
		c.h(c, &f, now)
	}
}

// readAll reads a message into b, growing it as needed.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// all returns the registered clients.
func (e *env) all() []*client {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clients[:len(e.clients):len(e.clients)]
}

// live counts the registered clients whose connection is up.
func (e *env) live() int {
	n := 0
	for _, c := range e.all() {
		if !c.dead.Load() {
			n++
		}
	}
	return n
}

// connectResult is what connectMany did.
type connectResult struct {
	ok, failed int
	elapsed    time.Duration
	lat        []int64 // per connection: dial + join
	firstErr   string
	kinds      map[string]int
}

// connectMany connects clients from..from+n-1, par at a time.
func (e *env) connectMany(ctx context.Context, from, n, par int, topicOf func(int) string, payloadOf func(int) []byte, h handler) connectResult {
	res := connectResult{kinds: map[string]int{}}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range min(max(par, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				st := time.Now()
				_, err := e.connect(ctx, from+i, topicOf(from+i), payloadOf(from+i), h, nil)
				d := time.Since(st)
				mu.Lock()
				if err != nil {
					res.failed++
					res.kinds[errKind(err)]++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				} else {
					res.ok++
					res.lat = append(res.lat, int64(d))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(t0)
	return res
}

// errKind sorts a connect error for fail_kinds.
func errKind(err error) string {
	s := err.Error()
	for _, k := range []struct{ substr, kind string }{
		{"cannot assign requested address", "eaddrnotavail"},
		{"too many open files", "emfile"},
		{"connection refused", "refused"},
		{"connection reset", "reset"},
		{"deadline exceeded", "timeout"},
		{"join refused", "join_refused"},
		{"join", "join_error"},
	} {
		if strings.Contains(s, k.substr) {
			return k.kind
		}
	}
	return "other"
}

// heartbeats sends a heartbeat on every live client once per interval,
// spread over the interval in batches, until ctx ends; the caller waits
// for the returned WaitGroup after cancelling ctx.
func (e *env) heartbeats(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	if e.hbInterval <= 0 {
		return &wg
	}
	wg.Go(func() {
		const batch = 50
		for {
			cs := e.all()
			gap := e.hbInterval / time.Duration(max(1, (len(cs)+batch-1)/batch))
			for i := 0; i < max(len(cs), 1); i += batch {
				for _, c := range cs[min(i, len(cs)):min(i+batch, len(cs))] {
					if !c.dead.Load() && c.ws.Write(ctx, websocket.MessageText,
						appendFrame(nil, "", c.nextRef(), "phoenix", "heartbeat", nil)) == nil {
						e.hbSent.Add(1)
					}
				}
				if !sleep(ctx, gap) {
					return
				}
			}
		}
	})
	return &wg
}

// closeAll closes every registered client with a closing handshake, par
// at a time, and cuts what is still open after limit. It returns when
// every reader goroutine has ended.
func (e *env) closeAll(par int, limit time.Duration) {
	e.stopping.Store(true)
	cs := e.all()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(par, len(cs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cs) {
					return
				}
				if !cs[i].dead.Load() {
					// Close waits for the server's close frame (5 s at most),
					// which the reader goroutine reads.
					_ = cs[i].ws.Close(websocket.StatusNormalClosure, "")
				}
			}
		})
	}
	closed := make(chan struct{})
	go func() { wg.Wait(); close(closed) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-closed:
	case <-t.C:
		e.kill()
		<-closed
	}
	e.readers.Wait()
	e.postHTTP.CloseIdleConnections()
	e.dialHTTP.CloseIdleConnections()
}

// kill cuts every registered connection at once.
func (e *env) kill() {
	e.stopping.Store(true)
	for _, c := range e.all() {
		c.ws.CloseNow()
	}
}

// waitQuiet waits until no frame has arrived for quiet, at most limit;
// false when limit or ctx ended it.
func (e *env) waitQuiet(ctx context.Context, quiet, limit time.Duration) (time.Duration, bool) {
	t0 := time.Now()
	last, since := e.frames.Load(), time.Now()
	tick := max(quiet/5, 10*time.Millisecond)
	for time.Since(t0) < limit {
		if !sleep(ctx, tick) {
			break
		}
		if n := e.frames.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return time.Since(t0), true
		}
	}
	return time.Since(t0), false
}

// postBroadcast calls POST /broadcast?topic=T&event=E on the first node.
func (e *env) postBroadcast(ctx context.Context, topic, event string, body []byte) error {
	u := e.httpBase + "/broadcast?topic=" + url.QueryEscape(topic) + "&event=" + url.QueryEscape(event)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.postHTTP.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /broadcast: HTTP %d", resp.StatusCode)
	}
	return nil
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Hot paths write with a Background context: coder/websocket arms no
// timer for a context that cannot end.
var bgCtx = context.Background()

const wsText = websocket.MessageText
