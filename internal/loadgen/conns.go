package loadgen

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// runConns opens n connections, each joined to one of -topics topics,
// waits until the join traffic is over, holds them, and reports the
// server's memory per connection: (RSS after the hold - RSS before) / n.
func runConns(c *common, args []string) int {
	fs := flag.NewFlagSet("conns", flag.ContinueOnError)
	c.flags(fs, "room:", 15*time.Minute)
	n := fs.Int("n", 1000, "connections")
	topic := fs.String("topic", "", "join this one topic on every connection (default: PREFIX bench-<i % topics>)")
	topics := fs.Int("topics", 100, "PREFIX bench-* topics when -topic is not set (0: connect without joining)")
	hold := fs.Duration("hold", 5*time.Second, "how long to hold the connections after the joins")
	if fs.Parse(args) != nil {
		return 2
	}
	e, ctx, cancel, r, err := c.start(*n, true)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	topicOf := func(i int) string {
		switch {
		case *topic != "":
			return *topic
		case *topics <= 0:
			return ""
		}
		return fmt.Sprintf("%sbench-%d", c.prefix, i%*topics)
	}
	r.set("n", *n)
	if *topic != "" {
		r.set("topic", *topic)
	} else {
		r.set("topics", *topics)
	}
	hbCtx, hbStop := context.WithCancel(ctx)
	hb := e.heartbeats(hbCtx)
	res := e.connectMany(ctx, 0, *n, c.dialc, topicOf,
		func(i int) []byte { return fmt.Appendf(nil, `{"user":"b%d"}`, i) }, func(*client, *frame, int64) {})
	settle, _ := e.waitQuiet(ctx, c.quiet, 2*time.Minute)
	srvJoined := readServer(c.pids)
	if res.ok > 0 {
		sleep(ctx, *hold)
	}
	srvHeld, selfHeld := readServer(c.pids), readSelf()
	live, drops := e.live(), e.drops.Load()
	clients := make([]int, len(c.urls))
	for _, cl := range e.all() {
		clients[cl.node]++
	}
	timedOut := ctx.Err() != nil
	hbStop()
	hb.Wait()
	e.closeAll(200, 30*time.Second)
	sleep(ctx, time.Second)
	srvClosed := readServer(c.pids)

	r.set("connected", res.ok)
	r.set("failed", res.failed)
	if res.failed > 0 {
		r.set("fail_kinds", res.kinds)
		r.set("first_error", res.firstErr)
	}
	r.set("dropped_during_hold", drops)
	r.set("live_at_end_of_hold", live)
	r.set("connect_join_s", res.elapsed.Seconds())
	if res.elapsed > 0 {
		r.set("connects_per_s", float64(res.ok)/res.elapsed.Seconds())
	}
	js := summarize(res.lat)
	r.set("connect_join_p50_ms", js.p50)
	r.set("connect_join_p99_ms", js.p99)
	r.set("connect_join_max_ms", js.max)
	r.set("settle_s", settle.Seconds())
	r.set("hold_s", hold.Seconds())
	r.set("heartbeats_sent", e.hbSent.Load())
	r.set("heartbeats_ok", e.hbOK.Load())
	r.set("channel_errors", e.chanErrors.Load())
	if c.srv0.ok && srvHeld.ok {
		r.set("server_rss_before_mib", c.srv0.mib())
		r.set("server_rss_joined_mib", srvJoined.mib())
		r.set("server_rss_held_mib", srvHeld.mib())
		r.set("server_rss_closed_mib", srvClosed.mib())
		if res.ok > 0 {
			r.set("server_kib_per_conn", float64(srvHeld.rssKiB-c.srv0.rssKiB)/float64(res.ok))
		}
		r.set("server_cpu_connect_s", srvJoined.cpu-c.srv0.cpu)
	}
	r.set("client_cpu_connect_s", selfHeld.cpu-c.self0.cpu)
	if res.ok > 0 {
		r.set("client_kib_per_conn", float64(selfHeld.maxRSSKiB)/float64(res.ok))
	}
	c.nodeTable(r, c.srv0, srvHeld, clients, []string{"kib_per_conn"}, func(j int) []any {
		if !srvHeld.ok || clients[j] == 0 {
			return []any{nil}
		}
		return []any{float64(srvHeld.nodes[j].RSSKiB-c.srv0.nodes[j].RSSKiB) / float64(clients[j])}
	})
	if timedOut {
		r.set("stopped", "time limit")
	}
	return c.finish(r, res.failed == 0 && drops == 0 && !timedOut)
}
