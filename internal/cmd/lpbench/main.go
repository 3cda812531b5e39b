// Command lpbench measures the long-poll transport against a server that
// implements the reference app (examples/testapp), from a separate
// process, over loopback only. pyrebench speaks WebSocket only; lpbench
// covers the two long-poll figures of docs/benchmarks.md:
//
//	lpbench latency  -url http://127.0.0.1:4000 -n 100
//	lpbench sessions -url http://127.0.0.1:4000 -n 2000 -pid PID
//
// latency joins one WebSocket client and one long-poll client to the same
// topic and sends n broadcasts with POST /broadcast, one at a time: for
// each it records when each client got it, and reports the medians and
// the median of the per-broadcast difference (long-poll minus WebSocket).
//
// sessions opens n long-poll sessions, each joined to one of 100 bench:
// topics and polling as soon as it is open, as phoenix.js does (-openfirst:
// only once every session is open, the connections idle in between),
// holds them with a poll in flight each (-hold, 9 s: within the server's
// window, so no poll is answered), checks that every request succeeded,
// and reports the server's RSS growth per session (/proc/PID/status).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lpbench latency|sessions [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "latency":
		err = latency(args)
	case "sessions":
		err = sessions(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lpbench:", err)
		os.Exit(1)
	}
}

// checkLoopback refuses any host outside 127.0.0.0/8.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return fmt.Errorf("%s: only 127.0.0.0/8 addresses are allowed", base)
	}
	return nil
}

// lpClient is a minimal long-poll client speaking V2.
type lpClient struct {
	http  *http.Client
	url   string // <base>/socket/longpoll?vsn=2.0.0
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

func newHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}}
}

func broadcast(base, topic string, n int) error {
	resp, err := http.Post(base+"/broadcast?topic="+url.QueryEscape(topic)+"&event=shout", "application/json",
		strings.NewReader(fmt.Sprintf(`{"n":%d}`, n)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /broadcast: HTTP %d", resp.StatusCode)
	}
	return nil
}

func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:4000", "server base URL")
	n := fs.Int("n", 100, "broadcasts")
	gap := fs.Duration("gap", 5*time.Millisecond, "pause between broadcasts (longer than the server's ParkAfter: polls are parked)")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	_ = fs.Parse(args)
	if err := checkLoopback(*base); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const topic = "bench:lplat"

	ws, _, err := websocket.Dial(ctx, strings.Replace(*base, "http", "ws", 1)+"/socket/websocket?vsn=2.0.0", nil)
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`["1","1","`+topic+`","phx_join",{}]`)); err != nil {
		return err
	}
	if _, _, err := ws.Read(ctx); err != nil {
		return err
	}
	lp := &lpClient{http: newHTTPClient(2), url: *base + "/socket/longpoll?vsn=2.0.0"}
	if err := lp.open(ctx, topic); err != nil {
		return err
	}

	// Arrival times per broadcast number, per client.
	wsAt := make([]time.Time, *n)
	lpAt := make([]time.Time, *n)
	got := make(chan struct{}, 2**n)
	seq := func(msg string) int {
		i := strings.LastIndex(msg, `{"n":`)
		if i < 0 {
			return -1
		}
		v, _ := strconv.Atoi(strings.TrimSuffix(msg[i+5:], "}]"))
		return v
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { // Heartbeats, or the server's idle timeout (60 s) closes the WebSocket.
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for ref := 100; ; ref++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = ws.Write(ctx, websocket.MessageText, []byte(`[null,"`+strconv.Itoa(ref)+`","phoenix","heartbeat",{}]`))
			}
		}
	})
	wg.Go(func() {
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if i := seq(string(data)); i >= 0 && i < *n {
				wsAt[i] = time.Now()
				got <- struct{}{}
			}
		}
	})
	wg.Go(func() {
		for {
			a, err := lp.do(ctx, http.MethodGet, "")
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "lpbench: poll:", err)
				}
				return
			}
			now := time.Now()
			for _, m := range a.Messages {
				if i := seq(m); i >= 0 && i < *n {
					lpAt[i] = now
					got <- struct{}{}
				}
			}
		}
	})
	defer cancel()
	sentAt := make([]time.Time, *n)
	time.Sleep(100 * time.Millisecond) // Let the first poll reach the server.
	for i := range *n {
		sentAt[i] = time.Now()
		if err := broadcast(*base, topic, i); err != nil {
			return err
		}
		for range 2 {
			select {
			case <-got:
			case <-time.After(15 * time.Second):
				return fmt.Errorf("broadcast %d: not received by both clients", i)
			}
		}
		time.Sleep(*gap) // Let the next poll reach the server (and park).
	}
	var wsLat, lpLat, diff []float64
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for i := range *n {
		wsLat = append(wsLat, ms(wsAt[i].Sub(sentAt[i])))
		lpLat = append(lpLat, ms(lpAt[i].Sub(sentAt[i])))
		diff = append(diff, ms(lpAt[i].Sub(wsAt[i])))
	}
	res := map[string]any{
		"command": "latency", "broadcasts": *n, "gap": gap.String(),
		"ws_median_ms": median(wsLat), "lp_median_ms": median(lpLat),
		"lp_minus_ws_median_ms": median(diff), "lp_p99_ms": percentile(lpLat, 99), "ws_p99_ms": percentile(wsLat, 99),
	}
	return report(res, *jsonOut)
}

func median(v []float64) float64 { return percentile(v, 50) }

func percentile(v []float64, p int) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, p*len(s)/100)]
}

func report(res map[string]any, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("%-24s %v\n", k, res[k])
	}
	return nil
}

func rssKiB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return 0, errors.New("no VmRSS")
}

func sessions(args []string) error {
	fs := flag.NewFlagSet("sessions", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:4000", "server base URL")
	n := fs.Int("n", 2000, "long-poll sessions")
	pid := fs.Int("pid", 0, "server pid (for RSS)")
	hold := fs.Duration("hold", 9*time.Second, "how long to hold the polls before measuring (under the server's 10 s window)")
	dialc := fs.Int("dialc", 50, "sessions opened at a time")
	rate := fs.Int("rate", 0, "sessions opened per second at most (0: as fast as possible)")
	live := fs.Bool("live", false, "also read the server's live heap and stacks after a GC from /debug/pprof/heap (testapp -pprof)")
	openFirst := fs.Bool("openfirst", false, "open every session before any of them polls (default: each polls as soon as it is open, as phoenix.js does)")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	_ = fs.Parse(args)
	if err := checkLoopback(*base); err != nil {
		return err
	}
	if *pid == 0 {
		return errors.New("-pid is required")
	}
	before, err := rssKiB(*pid)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := newHTTPClient(*n + 10)
	clients := make([]*lpClient, *n)
	var failures, polls, answered atomic.Int64
	// One poll in flight per session, renewed as soon as it is answered,
	// as phoenix.js does.
	pollLoop := func(c *lpClient) {
		for ctx.Err() == nil {
			polls.Add(1)
			a, err := c.do(ctx, http.MethodGet, "")
			if ctx.Err() != nil {
				return
			}
			answered.Add(1)
			if err != nil || (a.Status != 200 && a.Status != 204) {
				failures.Add(1)
				return
			}
		}
	}
	var pollers sync.WaitGroup
	start := time.Now()
	sem := make(chan struct{}, *dialc)
	var opened sync.WaitGroup
	for i := range *n {
		if *rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(*rate))))
		}
		sem <- struct{}{}
		opened.Go(func() {
			defer func() { <-sem }()
			c := &lpClient{http: hc, url: *base + "/socket/longpoll?vsn=2.0.0"}
			if err := c.open(ctx, fmt.Sprintf("bench:lp-%d", i%100)); err != nil {
				failures.Add(1)
				return
			}
			clients[i] = c
			if !*openFirst {
				pollers.Go(func() { pollLoop(c) })
			}
		})
	}
	opened.Wait()
	openS := time.Since(start).Seconds()
	if *openFirst {
		for _, c := range clients {
			if c != nil {
				pollers.Go(func() { pollLoop(c) })
			}
		}
	}
	time.Sleep(*hold)
	held, err := rssKiB(*pid)
	if err != nil {
		return err
	}
	inFlight := polls.Load() - answered.Load()
	var liveKiB float64
	if *live {
		if liveKiB, err = liveHeapKiB(*base); err != nil {
			return err
		}
	}
	cancel()
	pollers.Wait()
	res := map[string]any{
		"command": "sessions", "sessions": *n, "open_s": openS,
		"failures": failures.Load(), "polls_in_flight": inFlight, "polls_answered": answered.Load(),
		"server_rss_before_kib": before, "server_rss_held_kib": held,
		"server_kib_per_session": float64(held-before) / float64(*n),
		"open_rate":              *rate, "open_first": *openFirst,
	}
	if *live {
		res["server_live_kib_after_gc"] = liveKiB
		res["server_live_kib_per_session"] = liveKiB / float64(*n)
	}
	if err := report(res, *jsonOut); err != nil {
		return err
	}
	if failures.Load() > 0 {
		return fmt.Errorf("%d failures", failures.Load())
	}
	return nil
}

// liveHeapKiB forces a GC on the server and returns HeapInuse plus stacks,
// read from Go's /debug/pprof/heap?debug=1.
func liveHeapKiB(base string) (float64, error) {
	resp, err := http.Get(base + "/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"# HeapInuse = ", "# Stack = "} {
			if v, ok := strings.CutPrefix(line, key); ok {
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
