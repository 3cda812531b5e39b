package loadgen

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// echoer is one client's echo in flight. The reader goroutine sends the
// next echo as soon as a reply arrives; mu orders that with the first
// echo, which the command's goroutine sends.
type echoer struct {
	mu     sync.Mutex
	ref    string
	seq    int64
	sentAt int64
}

// echoRun drives every client's echo loop from the clients' readers.
type echoRun struct {
	e        *env
	echoers  []*echoer // per client index, made before the clients connect
	size     int
	stopAt   int64
	ops      atomic.Int64
	fails    atomic.Int64
	mismatch atomic.Int64
	active   atomic.Int64
	firstErr atomic.Value
	allDone  chan struct{}
}

func (run *echoRun) send(c *client) {
	st := run.echoers[c.idx]
	st.mu.Lock()
	st.seq++
	st.sentAt = run.e.now()
	st.ref = c.nextRef()
	buf := appendFrame(nil, c.joinRef, st.ref, c.topic, "echo", appendPayload(nil, st.seq, st.sentAt, run.size))
	st.mu.Unlock()
	if err := c.ws.Write(bgCtx, wsText, buf); err != nil {
		run.fails.Add(1)
		run.firstErr.CompareAndSwap(nil, "send: "+err.Error())
		run.done()
	}
}

func (run *echoRun) done() {
	if run.active.Add(-1) == 0 {
		close(run.allDone)
	}
}

func (run *echoRun) onFrame(c *client, f *frame, now int64) {
	st := run.echoers[c.idx]
	if string(f.event) != "phx_reply" {
		return
	}
	st.mu.Lock()
	mine := st.ref != "" && string(f.ref) == st.ref
	seq, sentAt := st.seq, st.sentAt
	if mine {
		st.ref = ""
	}
	st.mu.Unlock()
	if !mine {
		return
	}
	if !replyOK(f.payload) {
		run.fails.Add(1)
	} else if bn, ok := intField(f.payload, "bn"); !ok || bn != seq {
		run.mismatch.Add(1)
	} else {
		c.lat = append(c.lat, now-sentAt)
		run.ops.Add(1)
	}
	if now < run.stopAt {
		run.send(c)
	} else {
		run.done()
	}
}

// runEcho has c clients, each on a topic of its own, push echo and wait
// for the reply, one in flight each, for d: round trips per second, their
// latency, and the server's and the client's CPU per round trip.
func runEcho(c *common, args []string) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	c.flags(fs, "room:", 15*time.Minute)
	nc := fs.Int("c", 50, "clients, one echo in flight each")
	dur := fs.Duration("d", 10*time.Second, "how long to run the loop")
	size := fs.Int("size", 0, "payload padding in bytes")
	topic := fs.String("topic", "", "the topic of every client (default: PREFIX echo-<i>, one each)")
	replyTimeout := fs.Duration("replytimeout", 10*time.Second, "an echo without a reply after this long is a failure")
	if fs.Parse(args) != nil {
		return 2
	}
	e, ctx, cancel, r, err := c.start(*nc, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	r.set("clients", *nc)
	r.set("duration_s", dur.Seconds())
	r.set("payload_pad", *size)
	topicOf := func(i int) string {
		if *topic != "" {
			return *topic
		}
		return fmt.Sprintf("%secho-%d", c.prefix, i)
	}
	run := &echoRun{e: e, size: *size, allDone: make(chan struct{}), echoers: make([]*echoer, *nc)}
	for i := range run.echoers {
		run.echoers[i] = &echoer{}
	}
	res := e.connectMany(ctx, 0, *nc, c.dialc, topicOf,
		func(i int) []byte { return fmt.Appendf(nil, `{"user":"e%d"}`, i) }, run.onFrame)
	r.set("connected", res.ok)
	r.set("connect_failed", res.failed)
	if res.firstErr != "" {
		r.set("first_error", res.firstErr)
	}
	if res.failed > 0 {
		e.closeAll(200, 10*time.Second)
		return c.finish(r, false)
	}
	sleep(ctx, 200*time.Millisecond) // the after-join pushes

	cs := e.all()
	srvA, selfA := readServer(c.pids), readSelf()
	start := time.Now()
	run.stopAt = e.now() + int64(*dur)
	run.active.Store(int64(len(cs)))
	for _, cl := range cs {
		run.send(cl)
	}
	t := time.NewTimer(*dur + *replyTimeout)
	select {
	case <-run.allDone:
	case <-t.C:
		run.firstErr.CompareAndSwap(nil, fmt.Sprintf("%d echoes without a reply within -replytimeout", run.active.Load()))
		run.fails.Add(run.active.Load())
	case <-ctx.Done():
	}
	t.Stop()
	el := time.Since(start)
	srvB, selfB := readServer(c.pids), readSelf()
	drops := e.drops.Load()
	e.closeAll(200, 10*time.Second)

	var lat []int64
	for _, cl := range cs {
		lat = append(lat, cl.lat...)
	}
	ops := run.ops.Load()
	r.set("round_trips", ops)
	r.set("round_trips_per_s", float64(ops)/el.Seconds())
	r.set("failures", run.fails.Load())
	r.set("mismatched_replies", run.mismatch.Load())
	if v := run.firstErr.Load(); v != nil {
		r.set("first_error", v)
	}
	summarize(lat).put(r, "latency")
	if srvA.ok && srvB.ok {
		r.set("server_cpu_loop_s", srvB.cpu-srvA.cpu)
		if ops > 0 {
			r.set("server_cpu_us_per_rt", (srvB.cpu-srvA.cpu)*1e6/float64(ops))
		}
	}
	r.set("client_cpu_loop_s", selfB.cpu-selfA.cpu)
	if ops > 0 {
		r.set("client_cpu_us_per_rt", (selfB.cpu-selfA.cpu)*1e6/float64(ops))
	}
	ok := run.fails.Load() == 0 && run.mismatch.Load() == 0 && drops == 0 && ctx.Err() == nil && ops > 0
	return c.finish(r, ok)
}
