package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/pyrehq/pyre/internal/procfs"
)

// slow: N ordinary subscribers and K stalled ones share a topic while a
// sender shouts at -rate for -d. A stalled client dials with a small
// receive buffer, joins, and never touches its socket again, so the
// server's send buffers for it fill within a few messages. It cannot see
// a close while it does not read, so the server's end of each stalled
// socket is read from /proc/net/tcp every 100 ms (both ends of a loopback
// connection are listed there): the first reading where it is no longer
// ESTABLISHED is when the server closed it. At the end each stalled
// socket is read to its end: the server's close frame, EOF, a reset, or
// still open. The same run without stalled clients, first (the control),
// gives the ordinary subscribers' p99 to compare with.

type slowOpts struct {
	n, k       int
	rate       float64
	dur        time.Duration
	size       int
	topic      string
	rcvbuf     int
	linger     time.Duration
	msgTimeout time.Duration
}

// stalled is a subscriber that stops reading after its join.
type stalled struct {
	c     *client
	local netip.AddrPort // its end of the connection

	// From the readings of the server's end (slowWatch.mu).
	seen      bool
	closedAt  int64 // the first reading without it ESTABLISHED; 0: never
	srvState  string
	sendQPeak int64

	// From reading it at the end.
	end    string
	msgs   int
	lastBN int64
}

// connectStalled dials with SO_RCVBUF rcvbuf and joins with payload;
// nothing reads the connection afterwards.
func (e *env) connectStalled(ctx context.Context, idx int, topic string, payload []byte, rcvbuf int) (*stalled, error) {
	s := &stalled{lastBN: -1}
	dial := e.dialer(rcvbuf)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err == nil {
			s.local = nc.LocalAddr().(*net.TCPAddr).AddrPort()
		}
		return nc, err
	}}}
	c, err := e.connect(ctx, idx, topic, payload, nil, hc)
	s.c = c
	return s, err
}

// readToEnd reads the stalled socket until the server's close, EOF, a
// reset, or nothing for 2 s ("open").
func (s *stalled) readToEnd() {
	defer s.c.ws.CloseNow()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, b, err := s.c.ws.Read(ctx)
		cancel()
		if err != nil {
			var ce websocket.CloseError
			switch {
			case errors.As(err, &ce):
				s.end = fmt.Sprintf("close %d", ce.Code)
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				s.end = "eof"
			case errors.Is(err, syscall.ECONNRESET):
				s.end = "reset"
			case errors.Is(err, context.DeadlineExceeded):
				s.end = "open"
			default:
				s.end = "error: " + err.Error()
			}
			return
		}
		if f, ok := parseFrame(b); ok && string(f.event) == "shout" {
			s.msgs++
			if n, ok := intField(f.payload, "bn"); ok {
				s.lastBN = n
			}
		}
	}
}

// slowWatch reads the server's RSS and the server's end of every stalled
// socket every 100 ms.
type slowWatch struct {
	e      *env
	pids   []int
	server netip.AddrPort   // as the clients dial it
	diag   *procfs.SockDiag // nil: read /proc/net/tcp
	slow   []*stalled
	stop   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex // Protects the following and the stalled sockets' readings.
	peakKiB int64
	peakAt  int64
	open    int
}

func (w *slowWatch) start() {
	w.open = len(w.slow)
	w.diag, _ = procfs.NewSockDiag()
	w.stop = make(chan struct{})
	w.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	})
}

func (w *slowWatch) finish() {
	close(w.stop)
	w.wg.Wait()
	if w.diag != nil {
		w.diag.Close()
	}
}

func (w *slowWatch) openCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.open
}

func (w *slowWatch) sample() {
	now := w.e.now()
	srv := readServer(w.pids)
	w.mu.Lock()
	defer w.mu.Unlock()
	var socks []procfs.Socket
	if w.open > 0 && w.diag == nil {
		socks = procfs.Sockets(int(w.server.Port()))
	}
	if srv.ok && srv.rssKiB > w.peakKiB {
		w.peakKiB, w.peakAt = srv.rssKiB, now
	}
	w.open = 0
	for _, s := range w.slow {
		if s.closedAt == 0 {
			if srv, ok := w.serverEnd(socks, s.local); ok {
				s.track(srv, now)
			}
		}
		if s.closedAt == 0 {
			w.open++
		}
	}
}

// serverEnd finds the server's end of the connection from client: by
// sock_diag, or in socks (/proc/net/tcp) without it. nil: there is none (a
// TIME_WAIT belongs to an older connection); false: no reading this time.
// w.mu must be held.
func (w *slowWatch) serverEnd(socks []procfs.Socket, client netip.AddrPort) (*procfs.Socket, bool) {
	if w.diag != nil {
		s, err := w.diag.Lookup(w.server, client)
		switch {
		case err == nil && s.State != procfs.StateTimeWait:
			return &s, true
		case err == nil || errors.Is(err, procfs.ErrNoSocket):
			return nil, true
		}
		return nil, false
	}
	for i := range socks {
		s := &socks[i]
		if s.RemotePort == int(client.Port()) && s.Remote == client.Addr() && s.State != procfs.StateTimeWait {
			return s, true
		}
	}
	return nil, true
}

// track updates s from one reading of the server's end.
func (s *stalled) track(srv *procfs.Socket, now int64) {
	switch {
	case srv == nil:
		if s.seen {
			s.closedAt, s.srvState = now, "gone"
		}
	case srv.State == procfs.StateEstablished:
		s.seen = true
		s.sendQPeak = max(s.sendQPeak, srv.SendQ)
	default:
		s.seen = true
		s.closedAt, s.srvState = now, procfs.StateName(srv.State)
		s.sendQPeak = max(s.sendQPeak, srv.SendQ)
	}
}

// slowPhase is one phase: the control (k = 0) or the run with k stalled
// clients, on connections of its own.
type slowPhase struct {
	k                   int
	failed              int
	firstErr            string
	sent                int
	firstSend           int64
	expected, delivered int64
	drops, chanErrors   int64
	fan                 *fanout
	lat                 summary
	rssStart, rssEnd    serverSample
	peakKiB             int64
	srvCPU, cliCPU      float64
	lingerS             float64
	slow                []*stalled
	aborted             string
}

func (p *slowPhase) ok() bool {
	return p.failed == 0 && p.aborted == "" && p.expected > 0 && p.expected == p.delivered && p.drops == 0 && p.fan.extra.Load() == 0
}

func runSlowPhase(ctx context.Context, c *common, e *env, o slowOpts, k int) *slowPhase {
	msgs := int(o.rate * o.dur.Seconds())
	sender := o.n + k
	p := &slowPhase{k: k, fan: newFanout("shout", o.n, msgs, sender)}
	hbCtx, hbStop := context.WithCancel(ctx)
	hb := e.heartbeats(hbCtx)
	defer func() { hbStop(); hb.Wait() }()
	res := e.connectMany(ctx, 0, o.n, c.dialc, func(int) string { return o.topic },
		func(i int) []byte { return fmt.Appendf(nil, `{"user":"s%d"}`, i) }, p.fan.onFrame)
	p.failed, p.firstErr = res.failed, res.firstErr
	for i := 0; i < k && p.failed == 0; i++ {
		s, err := e.connectStalled(ctx, o.n+i, o.topic, fmt.Appendf(nil, `{"user":"s%d"}`, o.n+i), o.rcvbuf)
		if err != nil {
			p.failed, p.firstErr = 1, fmt.Sprintf("stalled client %d: %v", i, err)
			break
		}
		p.slow = append(p.slow, s)
	}
	var snd *client
	if p.failed == 0 {
		var err error
		if snd, err = e.connect(ctx, sender, o.topic, []byte(`{"user":"sender"}`), p.fan.onFrame, nil); err != nil {
			p.failed, p.firstErr = 1, "sender: "+err.Error()
		}
	}
	e.waitQuiet(ctx, c.quiet, time.Minute)
	closeAll := func() {
		for _, s := range p.slow {
			s.c.ws.CloseNow()
		}
		e.closeAll(200, 20*time.Second)
	}
	if p.failed > 0 || ctx.Err() != nil {
		closeAll()
		return p
	}
	u, _ := url.Parse(c.urls[0])
	w := &slowWatch{e: e, pids: c.pids, slow: p.slow}
	w.server, _ = netip.ParseAddrPort(u.Host)
	p.rssStart = readServer(c.pids)
	selfA := readSelf()
	w.start()
	t0 := e.now()
	p.firstSend = t0
	for i := range msgs {
		if ctx.Err() != nil {
			p.aborted = "time limit"
			break
		}
		sleep(ctx, time.Duration(t0+int64(float64(i)/o.rate*1e9)-e.now()))
		now := e.now()
		p.fan.sendT[i].Store(now)
		if _, err := snd.push("shout", appendPayload(nil, int64(i), now, o.size)); err != nil {
			p.aborted = "send: " + err.Error()
			break
		}
		p.sent++
	}
	deadline := time.Now().Add(o.msgTimeout)
	for i := 0; i < p.sent && e.drops.Load() == 0; i++ {
		if !p.fan.wait(ctx, i, time.Until(deadline)) {
			break
		}
	}
	p.rssEnd = readServer(c.pids)
	selfB := readSelf()
	if p.rssStart.ok && p.rssEnd.ok {
		p.srvCPU = p.rssEnd.cpu - p.rssStart.cpu
	}
	p.cliCPU = selfB.cpu - selfA.cpu
	lt := time.Now()
	for k > 0 && time.Since(lt) < o.linger && w.openCount() > 0 && sleep(ctx, 100*time.Millisecond) {
	}
	p.lingerS = time.Since(lt).Seconds()
	w.finish()
	p.peakKiB = w.peakKiB
	p.delivered, _ = p.fan.tally(p.sent)
	p.expected = int64(p.sent) * int64(o.n)
	p.drops, p.chanErrors = e.drops.Load(), e.chanErrors.Load()
	var wg sync.WaitGroup
	for _, s := range p.slow {
		wg.Go(s.readToEnd)
	}
	wg.Wait()
	closeAll()
	var lat []int64
	for _, cl := range e.all() {
		lat = append(lat, cl.lat...)
	}
	p.lat = summarize(lat)
	return p
}

// put writes a phase's figures into r under prefix.
func (p *slowPhase) put(r *report, prefix string) {
	set := func(k string, v any) { r.set(prefix+k, v) }
	set("connect_failed", p.failed)
	if p.firstErr != "" {
		set("first_error", p.firstErr)
	}
	set("sent", p.sent)
	set("lost", p.expected-p.delivered)
	set("duplicates", p.fan.extra.Load())
	set("out_of_order", p.fan.reorder.Load())
	set("dropped_conns", p.drops)
	set("channel_errors", p.chanErrors)
	set("latency_p50_ms", p.lat.p50)
	set("latency_p99_ms", p.lat.p99)
	set("latency_max_ms", p.lat.max)
	if p.rssStart.ok {
		set("server_rss_start_mib", p.rssStart.mib())
		set("server_rss_peak_mib", float64(p.peakKiB)/1024)
		set("server_rss_end_mib", p.rssEnd.mib())
		set("server_cpu_send_s", p.srvCPU)
	}
	set("client_cpu_send_s", p.cliCPU)
	if p.aborted != "" {
		set("aborted", p.aborted)
	}
}

func runSlow(c *common, args []string) int {
	fs := flag.NewFlagSet("slow", flag.ContinueOnError)
	c.flags(fs, "bench:", 10*time.Minute)
	var o slowOpts
	fs.IntVar(&o.n, "n", 200, "ordinary subscribers")
	fs.IntVar(&o.k, "k", 5, "stalled subscribers (join, then never read, write or close)")
	fs.Float64Var(&o.rate, "rate", 1000, "shouts per second")
	fs.DurationVar(&o.dur, "d", 20*time.Second, "how long to send")
	fs.IntVar(&o.size, "size", 1024, "payload padding in bytes")
	fs.StringVar(&o.topic, "topic", "", "the topic (default: PREFIX slow)")
	fs.IntVar(&o.rcvbuf, "rcvbuf", 4096, "SO_RCVBUF of a stalled client, in bytes (the kernel doubles it)")
	fs.DurationVar(&o.linger, "linger", 20*time.Second, "after sending, wait up to this long for the server to close the stalled sockets")
	fs.DurationVar(&o.msgTimeout, "msgtimeout", 10*time.Second, "after sending, wait this long for every message to reach every ordinary subscriber")
	control := fs.Bool("control", true, "first run the same without stalled clients, for p99_ratio")
	if fs.Parse(args) != nil {
		return 2
	}
	if o.rate <= 0 || o.dur <= 0 || o.n < 1 || o.k < 0 {
		return c.fail(errors.New("-rate and -d must be positive, -n at least 1, -k at least 0"))
	}
	if o.topic == "" {
		o.topic = c.prefix + "slow"
	}
	e, ctx, cancel, r, err := c.start(o.n+o.k+1, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	r.set("topic", o.topic)
	r.set("subscribers", o.n)
	r.set("slow_clients", o.k)
	r.set("rate_target", o.rate)
	r.set("duration_s", o.dur.Seconds())
	r.set("payload_pad", o.size)
	var ctl *slowPhase
	if *control {
		ctl = runSlowPhase(ctx, c, e, o, 0)
		sleep(ctx, time.Second)
		if e, err = newEnv(c); err != nil {
			return c.fail(err)
		}
		context.AfterFunc(ctx, e.kill)
	}
	p := runSlowPhase(ctx, c, e, o, o.k)
	p.put(r, "")
	ok := p.ok()
	if len(p.slow) > 0 {
		r.table = "stalled"
		r.head = []string{"stalled", "server_closed_after_s", "server_end", "server_sendq_peak_kib", "read_at_end", "msgs_read", "last_bn"}
		var after []any
		closed := 0
		for i, s := range p.slow {
			var at any
			if s.closedAt > 0 {
				closed++
				at = math.Round(float64(s.closedAt-p.firstSend)/1e6) / 1e3
			}
			state := s.srvState
			switch {
			case !s.seen:
				state = "not found"
			case s.closedAt == 0:
				state = "ESTABLISHED"
			}
			var last any
			if s.lastBN >= 0 {
				last = s.lastBN
			}
			after = append(after, at)
			r.addRow(i, at, state, float64(s.sendQPeak)/1024, s.end, s.msgs, last)
		}
		r.set("slow_closed_by_server", closed)
		r.set("slow_closed_after_s", after)
		r.set("linger_s", p.lingerS)
	}
	if ctl != nil {
		ctl.put(r, "control_")
		ok = ok && ctl.ok()
		if ctl.lat.p99 > 0 {
			r.set("p99_ratio", p.lat.p99/ctl.lat.p99)
		}
	}
	return c.finish(r, ok)
}
