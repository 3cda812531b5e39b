package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The long-poll commands measure /socket/longpoll (vsn 2.0.0) of the
// test app: lp-latency a waiting poll against a WebSocket for the same
// broadcast, lp-sessions what a held session costs the server.

// lpClient is a minimal long-poll client.
type lpClient struct {
	http  *http.Client
	url   string // BASE/socket/longpoll?vsn=2.0.0
	token string
}

type pollAnswer struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

func (c *lpClient) do(ctx context.Context, method, body string) (pollAnswer, error) {
	var a pollAnswer
	u := c.url
	if c.token != "" {
		u += "&token=" + url.QueryEscape(c.token)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return a, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return a, err
	}
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: HTTP %d", method, resp.StatusCode)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, err
	}
	if a.Token != "" {
		c.token = a.Token
	}
	return a, nil
}

// open starts a session and joins topic; the join's reply is polled.
func (c *lpClient) open(ctx context.Context, topic string) error {
	if a, err := c.do(ctx, http.MethodGet, ""); err != nil || a.Status != 410 {
		return fmt.Errorf("open: %+v %v", a, err)
	}
	if a, err := c.do(ctx, http.MethodPost, `["1","1",`+strconv.Quote(topic)+`,"phx_join",{}]`); err != nil || a.Status != 200 {
		return fmt.Errorf("join: %+v %v", a, err)
	}
	a, err := c.do(ctx, http.MethodGet, "")
	if err != nil || a.Status != 200 || len(a.Messages) == 0 || !strings.Contains(a.Messages[0], `"ok"`) {
		return fmt.Errorf("join reply: %+v %v", a, err)
	}
	return nil
}

func lpHTTP(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}}
}

// runLPLatency joins one WebSocket client and one long-poll client to
// bench:lplat and sends n broadcasts with POST /broadcast, one at a time:
// each client's latency, and the median of the per-broadcast difference
// (long-poll minus WebSocket).
func runLPLatency(c *common, args []string) int {
	fs := flag.NewFlagSet("lp-latency", flag.ContinueOnError)
	c.flags(fs, "bench:", 5*time.Minute)
	n := fs.Int("n", 100, "broadcasts")
	gap := fs.Duration("gap", 5*time.Millisecond, "pause between broadcasts (longer than the server's ParkAfter: polls are parked)")
	if fs.Parse(args) != nil {
		return 2
	}
	e, ctx, cancel, r, err := c.start(1, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	topic := c.prefix + "lplat"
	wsAt, lpAt := make([]atomic.Int64, *n), make([]atomic.Int64, *n)
	got := make(chan struct{}, 2**n)
	arrived := func(at []atomic.Int64, payload []byte, now int64) {
		if i, ok := intField(payload, "n"); ok && i >= 0 && i < int64(*n) && at[i].CompareAndSwap(0, now) {
			got <- struct{}{}
		}
	}
	if _, err := e.connect(ctx, 0, topic, nil, func(_ *client, f *frame, now int64) { arrived(wsAt, f.payload, now) }, nil); err != nil {
		return c.fail(err)
	}
	hbCtx, hbStop := context.WithCancel(ctx) // the WebSocket's idle timeout is 60 s
	hb := e.heartbeats(hbCtx)
	defer func() { hbStop(); hb.Wait() }()
	hc := lpHTTP(2)
	defer hc.CloseIdleConnections()
	lp := &lpClient{http: hc, url: e.httpBase + strings.TrimRight(c.mount, "/") + "/longpoll?vsn=2.0.0"}
	if err := lp.open(ctx, topic); err != nil {
		return c.fail(err)
	}
	pollCtx, stopPolls := context.WithCancel(ctx)
	var polls sync.WaitGroup
	polls.Go(func() {
		for {
			a, err := lp.do(pollCtx, http.MethodGet, "")
			if err != nil {
				return
			}
			now := e.now()
			for _, m := range a.Messages {
				if f, ok := parseFrame([]byte(m)); ok {
					arrived(lpAt, f.payload, now)
				}
			}
		}
	})
	sentAt := make([]int64, *n)
	sleep(ctx, 100*time.Millisecond) // the first poll reaches the server
	failed := ""
	for i := range *n {
		sentAt[i] = e.now()
		if err := e.postBroadcast(ctx, topic, "shout", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			failed = err.Error()
			break
		}
		if !waitN(ctx, got, 2, 15*time.Second) {
			failed = fmt.Sprintf("broadcast %d: not received by both clients", i)
			break
		}
		sleep(ctx, *gap) // the next poll reaches the server (and parks)
	}
	stopPolls()
	polls.Wait()
	hbStop()
	hb.Wait()
	e.closeAll(1, 5*time.Second)
	r.set("broadcasts", *n)
	r.set("gap", gap.String())
	if failed != "" {
		r.set("first_error", failed)
		return c.finish(r, false)
	}
	var ws, lps, diff []int64
	for i := range *n {
		ws = append(ws, wsAt[i].Load()-sentAt[i])
		lps = append(lps, lpAt[i].Load()-sentAt[i])
		diff = append(diff, lpAt[i].Load()-wsAt[i].Load())
	}
	w, l, d := summarize(ws), summarize(lps), summarize(diff)
	r.set("ws_median_ms", w.p50)
	r.set("lp_median_ms", l.p50)
	r.set("lp_minus_ws_median_ms", d.p50)
	r.set("ws_p99_ms", w.p99)
	r.set("lp_p99_ms", l.p99)
	return c.finish(r, true)
}

// waitN takes k values from ch, within limit.
func waitN(ctx context.Context, ch <-chan struct{}, k int, limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	for range k {
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// runLPSessions opens n long-poll sessions, each joined to one of 100
// bench:lp- topics and polling as soon as it is open, as phoenix.js does
// (-openfirst: only once every session is open, the connections idle in
// between), holds them with a poll in flight each (-hold, 9 s: within the
// server's window, so no poll is answered), and reports failures and the
// server's RSS growth per session.
func runLPSessions(c *common, args []string) int {
	fs := flag.NewFlagSet("lp-sessions", flag.ContinueOnError)
	c.flags(fs, "bench:", 15*time.Minute)
	n := fs.Int("n", 2000, "long-poll sessions")
	hold := fs.Duration("hold", 9*time.Second, "how long to hold the polls before measuring (under the server's 10 s window)")
	rate := fs.Int("rate", 0, "sessions opened per second at most (0: as fast as -dialc allows)")
	live := fs.Bool("live", false, "also read the server's live heap and stacks after a GC from /debug/pprof/heap (testapp -pprof)")
	openFirst := fs.Bool("openfirst", false, "open every session before any of them polls (default: each polls as soon as it is open, as phoenix.js does)")
	if fs.Parse(args) != nil {
		return 2
	}
	e, ctx, cancel, r, err := c.start(*n, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	if !c.srv0.ok {
		return c.fail(errors.New("no server process to read (-pid)"))
	}
	pollCtx, stopPolls := context.WithCancel(ctx)
	hc := lpHTTP(*n + 10)
	defer hc.CloseIdleConnections()
	base := e.httpBase + strings.TrimRight(c.mount, "/") + "/longpoll?vsn=2.0.0"
	clients := make([]*lpClient, *n)
	var failures, polls, answered atomic.Int64
	pollLoop := func(lc *lpClient) { // one poll in flight, renewed when answered
		for pollCtx.Err() == nil {
			polls.Add(1)
			a, err := lc.do(pollCtx, http.MethodGet, "")
			if pollCtx.Err() != nil {
				return
			}
			answered.Add(1)
			if err != nil || (a.Status != 200 && a.Status != 204) {
				failures.Add(1)
				return
			}
		}
	}
	var pollers, opened sync.WaitGroup
	start := time.Now()
	sem := make(chan struct{}, max(c.dialc, 1))
	for i := range *n {
		if *rate > 0 {
			sleep(ctx, time.Until(start.Add(time.Duration(i)*time.Second/time.Duration(*rate))))
		}
		sem <- struct{}{}
		opened.Go(func() {
			defer func() { <-sem }()
			lc := &lpClient{http: hc, url: base}
			if err := lc.open(ctx, fmt.Sprintf("%slp-%d", c.prefix, i%100)); err != nil {
				failures.Add(1)
				return
			}
			clients[i] = lc
			if !*openFirst {
				pollers.Go(func() { pollLoop(lc) })
			}
		})
	}
	opened.Wait()
	openS := time.Since(start).Seconds()
	if *openFirst {
		for _, lc := range clients {
			if lc != nil {
				pollers.Go(func() { pollLoop(lc) })
			}
		}
	}
	sleep(ctx, *hold)
	held := readServer(c.pids)
	inFlight := polls.Load() - answered.Load()
	var liveKiB float64
	var liveErr error
	if *live {
		liveKiB, liveErr = liveHeapKiB(ctx, e.httpBase)
	}
	stopPolls()
	pollers.Wait()
	r.set("sessions", *n)
	r.set("open_s", openS)
	r.set("failures", failures.Load())
	r.set("polls_in_flight", inFlight)
	r.set("polls_answered", answered.Load())
	r.set("server_rss_before_kib", c.srv0.rssKiB)
	r.set("server_rss_held_kib", held.rssKiB)
	r.set("server_kib_per_session", float64(held.rssKiB-c.srv0.rssKiB)/float64(*n))
	r.set("open_rate", *rate)
	r.set("open_first", *openFirst)
	if *live && liveErr == nil {
		r.set("server_live_kib_after_gc", liveKiB)
		r.set("server_live_kib_per_session", liveKiB/float64(*n))
	} else if liveErr != nil {
		r.set("first_error", liveErr.Error())
	}
	return c.finish(r, failures.Load() == 0 && liveErr == nil && ctx.Err() == nil)
}

// liveHeapKiB forces a GC on the server and returns HeapInuse plus stacks,
// read from Go's /debug/pprof/heap?debug=1.
func liveHeapKiB(ctx context.Context, base string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/pprof/heap?debug=1&gc=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	defer http.DefaultClient.CloseIdleConnections()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		for _, key := range []string{"# HeapInuse = ", "# Stack = "} {
			if v, ok := strings.CutPrefix(sc.Text(), key); ok {
				f, _, _ := strings.Cut(v, " ")
				x, err := strconv.ParseFloat(f, 64)
				if err != nil {
					return 0, err
				}
				total += x / 1024
			}
		}
	}
	if total == 0 {
		return 0, errors.New("no heap statistics at /debug/pprof/heap (start the server with -pprof)")
	}
	return total, sc.Err()
}
