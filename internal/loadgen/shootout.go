package loadgen

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// The hashrocket websocket-shootout method (github.com/hashrocket/
// websocket-shootout, websocket-bench broadcast): every client joins one
// topic; clients are added in steps; after each step a sample of
// broadcasts is sent from random clients, c in flight at a time; a step
// passes while the p-th percentile of the broadcast round trip is within
// the limit. The answer is the largest client count that passed.
//
// Their app answers a "broadcast" push with a reply once the fan-out is
// handed off; the test app has shout, a broadcast without a reply, so the
// round trip is measured on the broadcast itself: "all" is from the push
// until the last client has its copy, "self" until the sender has its
// own.

// shot is one broadcast of the sample.
type shot struct {
	sender atomic.Int64
	sendT  atomic.Int64
	selfT  atomic.Int64 // when the sender got its own copy
	allT   atomic.Int64 // when the last client got its copy
	count  atomic.Int32
	done   chan struct{}
}

// shootout tracks the shots; every shot exists before the first client
// connects, so readers and the sender share them without a lock.
type shootout struct {
	target atomic.Int32 // clients that must receive each shot
	shots  []*shot
	fired  atomic.Int64 // shots[:fired] have been sent
	bad    atomic.Int64
	extra  atomic.Int64
}

func (s *shootout) onFrame(c *client, f *frame, now int64) {
	if string(f.event) != "shout" {
		return
	}
	n, ok := intField(f.payload, "bn")
	if !ok || n < 0 || n >= s.fired.Load() {
		s.bad.Add(1)
		return
	}
	sh := s.shots[n]
	if int64(c.idx) == sh.sender.Load() {
		sh.selfT.Store(now)
	}
	switch cnt := sh.count.Add(1); {
	case cnt == s.target.Load():
		sh.allT.Store(now)
		close(sh.done)
	case cnt > s.target.Load():
		s.extra.Add(1)
	}
}

func runShootout(c *common, args []string) int {
	fs := flag.NewFlagSet("shootout", flag.ContinueOnError)
	c.flags(fs, "room:", 30*time.Minute)
	step := fs.Int("step", 1000, "clients added per step")
	initial := fs.Int("initial", 0, "clients in the first step (default: -step)")
	maxClients := fs.Int("max", 20000, "stop after this many clients (lowered to fit the open-file limits)")
	conc := fs.Int("c", 4, "broadcasts in flight")
	sample := fs.Int("s", 40, "broadcasts per step")
	limit := fs.Duration("limit", 250*time.Millisecond, "round-trip limit at the percentile")
	pct := fs.Int("pct", 95, "the percentile compared with -limit")
	metric := fs.String("metric", "all", "round trip until every client has the broadcast (all) or the sender has it (self)")
	topic := fs.String("topic", "", "the topic (default: PREFIX shootout)")
	msgTimeout := fs.Duration("msgtimeout", 10*time.Second, "a broadcast not at every client after this long fails the step")
	if fs.Parse(args) != nil {
		return 2
	}
	if *metric != "all" && *metric != "self" {
		return c.fail(fmt.Errorf("-metric must be all or self"))
	}
	if *initial <= 0 {
		*initial = *step
	}
	if *topic == "" {
		*topic = c.prefix + "shootout"
	}
	e, ctx, cancel, r, err := c.start(*maxClients, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	if lim := c.connLimit(); *maxClients > lim {
		r.set("max_requested", *maxClients)
		*maxClients = lim
	}
	for _, k := range []struct {
		key string
		v   any
	}{{"topic", *topic}, {"step", *step}, {"max", *maxClients}, {"concurrent", *conc}, {"sample", *sample},
		{"limit_ms", ms(int64(*limit))}, {"percentile", *pct}, {"metric", *metric}} {
		r.set(k.key, k.v)
	}
	steps := 1 + max(0, *maxClients-*initial+*step-1) / *step
	s := &shootout{shots: make([]*shot, steps**sample)}
	for i := range s.shots {
		s.shots[i] = &shot{done: make(chan struct{})}
	}
	hbCtx, hbStop := context.WithCancel(ctx)
	hb := e.heartbeats(hbCtx)
	r.table = "steps"
	r.head = []string{"clients", fmt.Sprintf("p%d_ms", *pct), "min_ms", "median_ms", "max_ms",
		fmt.Sprintf("self_p%d_ms", *pct), "join_s", "settle_s", "srv_rss_mib", "srv_cpu_total_s", "cli_cpu_total_s", "result"}
	best, clients, stopped := 0, 0, ""
	payloadOf := func(i int) []byte { return fmt.Appendf(nil, `{"user":"c%d"}`, i) }
	for clients < *maxClients && stopped == "" {
		add := *step
		if clients == 0 {
			add = *initial
		}
		add = min(add, *maxClients-clients)
		res := e.connectMany(ctx, clients, add, c.dialc, func(int) string { return *topic }, payloadOf, s.onFrame)
		clients += res.ok
		if res.failed > 0 {
			stopped = fmt.Sprintf("%d connects failed at %d clients: %s", res.failed, clients+res.failed, res.firstErr)
			break
		}
		settle, quiet := e.waitQuiet(ctx, c.quiet, 10*time.Minute)
		if !quiet {
			stopped = "no quiet period after the joins"
			break
		}
		if d := e.drops.Load(); d > 0 {
			stopped = fmt.Sprintf("%d connections dropped", d)
			break
		}
		s.target.Store(int32(clients))
		all, self, failed := s.sample(e, *sample, *conc, *msgTimeout)
		if failed != "" {
			stopped = fmt.Sprintf("%s (at %d clients)", failed, clients)
			r.addRow(clients, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "error")
			break
		}
		crit := hashrocketRank(all, *pct)
		var selfP any
		if len(self) > 0 {
			selfP = ms(hashrocketRank(self, *pct))
			if *metric == "self" {
				crit = hashrocketRank(self, *pct)
			}
		}
		result := "pass"
		if crit > int64(*limit) {
			result = "FAIL"
			stopped = fmt.Sprintf("p%d %v > %v at %d clients", *pct, time.Duration(crit).Round(time.Millisecond), *limit, clients)
		} else {
			best = clients
		}
		srv, me := readServer(c.pids), readSelf()
		var rss, cpu any
		if srv.ok && c.srv0.ok {
			rss, cpu = srv.mib(), srv.cpu-c.srv0.cpu
		}
		r.addRow(clients, ms(crit), ms(all[0]), ms(hashrocketRank(all, 50)), ms(all[len(all)-1]), selfP,
			res.elapsed.Seconds(), settle.Seconds(), rss, cpu, me.cpu-c.self0.cpu, result)
		fmt.Fprintf(c.stderr, "clients %6d  p%d %8.1f ms  median %8.1f ms  max %8.1f ms  (join %.1f s)  %s\n",
			clients, *pct, ms(crit), ms(hashrocketRank(all, 50)), ms(all[len(all)-1]), res.elapsed.Seconds(), result)
		if ctx.Err() != nil && stopped == "" {
			stopped = "time limit"
		}
	}
	if stopped == "" {
		stopped = fmt.Sprintf("reached -max %d", *maxClients)
	}
	hbStop()
	hb.Wait()
	e.closeAll(200, 60*time.Second)
	r.set("best_clients", best)
	r.set("stopped", stopped)
	r.set("dropped_conns", e.drops.Load())
	r.set("duplicates", s.extra.Load())
	return c.finish(r, best > 0)
}

// sample sends n shots from random clients, conc in flight, and returns
// their sorted round trips: to the last client, and to the sender.
func (s *shootout) sample(e *env, n, conc int, limit time.Duration) (all, self []int64, failed string) {
	cs := e.all()
	results := make(chan *shot, n)
	inFlight, launched := 0, 0
	fire := func() {
		sh := s.shots[s.fired.Load()]
		snd := cs[rand.IntN(len(cs))]
		sh.sender.Store(int64(snd.idx))
		now := e.now()
		sh.sendT.Store(now)
		id := s.fired.Add(1) - 1
		if _, err := snd.push("shout", appendPayload(nil, id, now, 0)); err != nil {
			failed = "send: " + err.Error()
			return
		}
		inFlight++
		launched++
		go func() {
			t := time.NewTimer(limit)
			defer t.Stop()
			select {
			case <-sh.done:
				results <- sh
			case <-t.C:
				results <- nil
			}
		}()
	}
	for launched < min(conc, n) && failed == "" {
		fire()
	}
	for inFlight > 0 {
		sh := <-results
		inFlight--
		if sh == nil {
			failed = "a broadcast did not reach every client within -msgtimeout"
			continue
		}
		all = append(all, sh.allT.Load()-sh.sendT.Load())
		if t := sh.selfT.Load(); t > 0 {
			self = append(self, t-sh.sendT.Load())
		}
		if launched < n && failed == "" {
			fire()
		}
	}
	slices.Sort(all)
	slices.Sort(self)
	return all, self, failed
}
