package loadgen

import (
	"flag"
	"fmt"
	"time"
)

// runBroadcast has n subscribers on one topic and sends them msgs
// numbered messages, pushed as shout by one more client or posted to
// POST /broadcast: the latency of every (subscriber, message) pair, lost
// copies, and the server's CPU per delivery in the send phase.
func runBroadcast(c *common, args []string) int {
	fs := flag.NewFlagSet("broadcast", flag.ContinueOnError)
	c.flags(fs, "room:", 15*time.Minute)
	n := fs.Int("n", 1000, "subscribers")
	msgs := fs.Int("msgs", 200, "messages")
	rate := fs.Float64("rate", 0, "messages per second; 0: one at a time, the next when every subscriber has the last")
	via := fs.String("via", "ws", "ws: a client pushes shout; http: POST /broadcast?topic=T&event=shout")
	topic := fs.String("topic", "", "the topic (default: PREFIX bcast)")
	size := fs.Int("size", 0, "payload padding in bytes")
	msgTimeout := fs.Duration("msgtimeout", 10*time.Second, "a message not at every subscriber after this long is lost")
	if fs.Parse(args) != nil {
		return 2
	}
	if *via != "ws" && *via != "http" {
		return c.fail(fmt.Errorf("-via must be ws or http"))
	}
	if *topic == "" {
		*topic = c.prefix + "bcast"
	}
	e, ctx, cancel, r, err := c.start(*n+1, true)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	r.set("via", *via)
	r.set("topic", *topic)
	r.set("subscribers", *n)
	r.set("msgs", *msgs)
	if *rate > 0 {
		r.set("rate_target", *rate)
	} else {
		r.set("mode", "one at a time")
	}
	r.set("payload_pad", *size)

	sender := *n // the ws sender's index; it is on the first node
	nodes := len(c.urls)
	e.nodeOf = func(i int) int {
		if i == sender {
			return 0
		}
		return i % nodes
	}
	b := newFanout("shout", *n, *msgs, sender)
	payloadOf := func(i int) []byte { return fmt.Appendf(nil, `{"user":"s%d"}`, i) }
	res := e.connectMany(ctx, 0, *n, c.dialc, func(int) string { return *topic }, payloadOf, b.onFrame)
	var snd *client
	if *via == "ws" && res.failed == 0 {
		if snd, err = e.connect(ctx, sender, *topic, []byte(`{"user":"sender"}`), b.onFrame, nil); err != nil {
			res.failed++
			res.firstErr = "sender: " + err.Error()
		}
	}
	settle, _ := e.waitQuiet(ctx, c.quiet, 5*time.Minute)
	r.set("connected", res.ok)
	r.set("connect_failed", res.failed)
	if res.firstErr != "" {
		r.set("first_error", res.firstErr)
	}
	r.set("connect_join_s", res.elapsed.Seconds())
	r.set("settle_s", settle.Seconds())
	if res.failed > 0 || ctx.Err() != nil {
		e.closeAll(200, 20*time.Second)
		return c.finish(r, false)
	}

	srvA, selfA := readServer(c.pids), readSelf()
	sent, timeouts, aborted := 0, 0, ""
	t0 := e.now()
	for k := range *msgs {
		if ctx.Err() != nil {
			aborted = "time limit"
			break
		}
		if d := e.drops.Load(); d > 0 {
			aborted = fmt.Sprintf("%d connections dropped", d)
			break
		}
		if *rate > 0 {
			sleep(ctx, time.Duration(t0+int64(float64(k)/(*rate)*1e9)-e.now()))
		}
		now := e.now()
		payload := appendPayload(nil, int64(k), now, *size)
		b.sendT[k].Store(now)
		if *via == "ws" {
			_, err = snd.push("shout", payload)
		} else {
			err = e.postBroadcast(ctx, *topic, "shout", payload)
		}
		if err != nil {
			aborted = "send: " + err.Error()
			break
		}
		sent++
		if *rate == 0 && !b.wait(ctx, k, *msgTimeout) {
			if timeouts++; timeouts >= 3 {
				aborted = "3 messages not at every subscriber within -msgtimeout"
				break
			}
		}
	}
	tSent := e.now()
	deadline := time.Now().Add(*msgTimeout)
	for k := 0; k < sent && *rate > 0; k++ {
		if !b.wait(ctx, k, time.Until(deadline)) {
			break
		}
	}
	srvB, selfB := readServer(c.pids), readSelf()
	delivered, incomplete := b.tally(sent)
	drops := e.drops.Load()
	e.closeAll(200, 30*time.Second)

	// Every reader has ended: the clients' latencies can be read.
	var lat []int64
	nodeLat := make([][]int64, nodes)
	subs := make([]int, nodes)
	for _, cl := range e.all() {
		if cl.idx == sender {
			continue
		}
		subs[cl.node]++
		lat = append(lat, cl.lat...)
		nodeLat[cl.node] = append(nodeLat[cl.node], cl.lat...)
	}
	expected := int64(sent) * int64(*n)
	r.set("sent", sent)
	r.set("send_s", float64(tSent-t0)/1e9)
	if tSent > t0 {
		r.set("send_rate", float64(sent)/(float64(tSent-t0)/1e9))
	}
	r.set("expected_deliveries", expected)
	r.set("delivered", delivered)
	r.set("lost", expected-delivered)
	r.set("msgs_incomplete", incomplete)
	r.set("duplicates", b.extra.Load())
	r.set("out_of_order", b.reorder.Load())
	r.set("dropped_conns", drops)
	r.set("channel_errors", e.chanErrors.Load())
	if last := b.last.Load(); last > t0 {
		r.set("deliver_s", float64(last-t0)/1e9)
		r.set("deliveries_per_s", float64(delivered)/(float64(last-t0)/1e9))
	}
	summarize(lat).put(r, "latency")
	fo := summarize(b.fanoutTimes(sent))
	r.set("fanout_p50_ms", fo.p50)
	r.set("fanout_p99_ms", fo.p99)
	r.set("fanout_max_ms", fo.max)
	if srvA.ok && srvB.ok {
		r.set("server_cpu_send_s", srvB.cpu-srvA.cpu)
		if delivered > 0 {
			r.set("server_cpu_us_per_delivery", (srvB.cpu-srvA.cpu)*1e6/float64(delivered))
		}
		r.set("server_rss_mib", srvB.mib())
	}
	r.set("client_cpu_send_s", selfB.cpu-selfA.cpu)
	if delivered > 0 {
		r.set("client_cpu_us_per_delivery", (selfB.cpu-selfA.cpu)*1e6/float64(delivered))
	}
	c.nodeTable(r, srvA, srvB, subs, []string{"delivered", "lost", "latency_p50_ms", "latency_p99_ms"}, func(j int) []any {
		s := summarize(nodeLat[j])
		return []any{s.count, int64(sent)*int64(subs[j]) - int64(s.count), s.p50, s.p99}
	})
	if aborted != "" {
		r.set("aborted", aborted)
	}
	return c.finish(r, aborted == "" && sent == *msgs && expected == delivered && drops == 0 && b.extra.Load() == 0)
}
