package loadgen

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// presence: N clients join one topic of the test app's PresenceChannel,
// client i as {"name":"u<i>"}, and each keeps its view of the keys as
// phoenix.js Presence does: the keys of presence_state are added, and of
// each presence_diff the keys under joins are added, then those under
// leaves removed. converged_s is when the last view held all N keys. Then
// (-leave) all N close at once, and a watcher that joined first waits
// until its view holds only itself.

// presView is one client's view: a bitset over u0..u(N-1) and, at N, the
// watcher. Its reader goroutine owns it.
type presView struct {
	bits        []uint64
	keys        int // u keys held
	convAt      int64
	frames      int64 // until the leave phase (the watcher: all)
	bytes       int64
	states      int64
	diffs       int64
	leaveFrames int64
}

type presRun struct {
	n     int
	views []presView // the N clients, then the watcher
	t0    int64

	converged atomic.Int64
	lastConv  atomic.Int64
	held      atomic.Int64 // u keys held over the N views
	watchAll  atomic.Int64 // when the watcher first saw all N
	pending   atomic.Int32 // conditions before ready: every view, and the watcher's
	ready     chan struct{}

	leaving     atomic.Bool
	watcherKeys atomic.Int64 // other keys in the watcher's view; -1: its own is missing
	leftAt      atomic.Int64
	leftOnce    sync.Once
	left        chan struct{}

	bad     atomic.Int64 // payloads the scanner could not read
	foreign atomic.Int64 // keys other than u<i> and watcher
}

func newPresRun(n int, watcher bool) *presRun {
	p := &presRun{n: n, views: make([]presView, n+1), ready: make(chan struct{}), left: make(chan struct{})}
	words := (n + 64) / 64
	for i := range p.views {
		p.views[i].bits = make([]uint64, words)
	}
	p.pending.Store(1)
	if watcher {
		p.pending.Store(2)
	}
	p.watcherKeys.Store(-1)
	return p
}

// index maps "u<i>" (i < n) to i and "watcher" to n; -1 otherwise.
func (p *presRun) index(key []byte) int {
	if string(key) == "watcher" {
		return p.n
	}
	if len(key) < 2 || key[0] != 'u' || (key[1] == '0' && len(key) > 2) {
		return -1
	}
	i, err := strconv.Atoi(string(key[1:]))
	if err != nil || i < 0 || i >= p.n {
		return -1
	}
	return i
}

func (p *presRun) set(v *presView, key []byte, on bool) {
	i := p.index(key)
	if i < 0 {
		p.foreign.Add(1)
		return
	}
	w, m := i/64, uint64(1)<<(i%64)
	if had := v.bits[w]&m != 0; had == on {
		return
	}
	v.bits[w] ^= m
	if i < p.n {
		if on {
			v.keys++
		} else {
			v.keys--
		}
	}
}

// apply updates v with a presence_state or presence_diff payload.
func (p *presRun) apply(v *presView, event string, b []byte) bool {
	add := func(k []byte) { p.set(v, k, true) }
	if event == "presence_state" {
		_, ok := eachKey(b, 0, add)
		return ok
	}
	// joins before leaves, whatever their order in the payload
	leaves := -1
	_, ok := eachMember(b, 0, func(k []byte, at int) (int, bool) {
		switch string(k) {
		case "joins":
			return eachKey(b, at, add)
		case "leaves":
			leaves = at
		}
		return skipValue(b, at)
	})
	if ok && leaves >= 0 {
		_, ok = eachKey(b, leaves, func(k []byte) { p.set(v, k, false) })
	}
	return ok
}

func (p *presRun) onFrame(c *client, f *frame, now int64) {
	v := &p.views[c.idx]
	watcher := c.idx == p.n
	if !p.leaving.Load() || watcher {
		v.frames++
		v.bytes += int64(f.size)
	} else {
		v.leaveFrames++
	}
	ev := string(f.event)
	if ev != "presence_state" && ev != "presence_diff" {
		return
	}
	if !p.leaving.Load() || watcher {
		if ev == "presence_state" {
			v.states++
		} else {
			v.diffs++
		}
	}
	before := v.keys
	if !p.apply(v, ev, f.payload) {
		p.bad.Add(1)
	}
	if watcher {
		if v.keys == p.n && p.watchAll.CompareAndSwap(0, now) {
			p.done()
		}
		others := int64(v.keys)
		if v.bits[p.n/64]&(1<<(p.n%64)) == 0 {
			others = -1
		}
		p.watcherKeys.Store(others)
		if others == 0 && p.leaving.Load() {
			p.markLeft(now)
		}
		return
	}
	p.held.Add(int64(v.keys - before))
	if v.keys == p.n && v.convAt == 0 {
		v.convAt = now
		storeMax(&p.lastConv, now)
		if p.converged.Add(1) == int64(p.n) {
			p.done()
		}
	}
}

func (p *presRun) done() {
	if p.pending.Add(-1) == 0 {
		close(p.ready)
	}
}

func (p *presRun) markLeft(now int64) {
	p.leftOnce.Do(func() {
		p.leftAt.Store(now)
		close(p.left)
	})
}

func runPresence(c *common, args []string) int {
	fs := flag.NewFlagSet("presence", flag.ContinueOnError)
	c.flags(fs, "presence:", 180*time.Second)
	n := fs.Int("n", 2000, "clients on the topic")
	topic := fs.String("topic", "", "the topic (default: PREFIX big-<random>)")
	leave := fs.Bool("leave", true, "a watcher joins first; after convergence the N clients close at once and the watcher's view must come down to itself")
	leaveTime := fs.Duration("leavetime", 60*time.Second, "limit for the leave phase")
	if fs.Parse(args) != nil {
		return 2
	}
	if *n < 1 {
		return c.fail(fmt.Errorf("-n must be at least 1"))
	}
	if *topic == "" {
		*topic = fmt.Sprintf("%sbig-%08x", c.prefix, rand.Uint32())
	}
	convLimit := c.maxTime // -maxtime bounds the wait for convergence
	c.maxTime += *leaveTime + time.Minute
	e, ctx, cancel, r, err := c.start(*n+1, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	if lim := c.connLimit(); *n+1 > lim {
		return c.fail(fmt.Errorf("-n %d: at most %d connections fit under the open-file limits", *n, lim-1))
	}
	r.set("topic", *topic)
	r.set("n", *n)
	r.set("leave", *leave)
	p := newPresRun(*n, *leave)
	hbCtx, hbStop := context.WithCancel(ctx)
	hbs := []*sync.WaitGroup{e.heartbeats(hbCtx)}
	stopHeartbeats := func() {
		hbStop()
		for _, wg := range hbs {
			wg.Wait()
		}
	}
	defer stopHeartbeats()
	var w *env // the watcher's, so that closing the N leaves it open
	if *leave {
		if w, err = newEnv(c); err != nil {
			return c.fail(err)
		}
		w.start = e.start
		hbs = append(hbs, w.heartbeats(hbCtx))
		if _, err := w.connect(ctx, *n, *topic, []byte(`{"name":"watcher"}`), p.onFrame, nil); err != nil {
			return c.fail(fmt.Errorf("watcher: %w", err))
		}
	}
	closeWatcher := func() {
		if w != nil {
			w.closeAll(1, 10*time.Second)
		}
	}

	srvA, selfA := readServer(c.pids), readSelf()
	p.t0 = e.now()
	cctx, ccancel := context.WithTimeout(ctx, convLimit)
	defer ccancel()
	res := e.connectMany(cctx, 0, *n, c.dialc, func(int) string { return *topic },
		func(i int) []byte { return fmt.Appendf(nil, `{"name":"u%d"}`, i) }, p.onFrame)
	r.set("connected", res.ok)
	r.set("connect_failed", res.failed)
	if res.failed > 0 || res.ok < *n {
		r.set("fail_kinds", res.kinds)
		r.set("first_error", res.firstErr)
		e.closeAll(200, 30*time.Second)
		closeWatcher()
		return c.finish(r, false)
	}
	r.set("joined_s", float64(e.now()-p.t0)/1e9)

	stopped := ""
	tick := time.NewTicker(100 * time.Millisecond)
wait:
	for {
		select {
		case <-p.ready:
			break wait
		case <-cctx.Done():
			stopped = "time limit (-maxtime)"
			break wait
		case <-tick.C:
			// A dropped connection or a channel error takes a key with it.
			if d := e.drops.Load(); d > 0 {
				stopped = fmt.Sprintf("%d connections dropped", d)
				break wait
			}
			if ce := e.chanErrors.Load(); ce > 0 {
				stopped = fmt.Sprintf("%d channel errors (phx_error or phx_close)", ce)
				break wait
			}
			if w != nil && w.drops.Load()+w.chanErrors.Load() > 0 {
				stopped = "the watcher's connection or channel failed"
				break wait
			}
		}
	}
	tick.Stop()
	srvB, selfB := readServer(c.pids), readSelf()
	conv := p.converged.Load()
	drops, chanErrs := e.drops.Load(), e.chanErrors.Load()
	r.set("converged_clients", conv)
	if conv == int64(*n) {
		r.set("converged_s", float64(p.lastConv.Load()-p.t0)/1e9)
	} else {
		r.set("converged_s", nil)
		r.set("keys_missing", int64(*n)*int64(*n)-p.held.Load())
	}
	if *leave {
		if t := p.watchAll.Load(); t > 0 {
			r.set("watcher_saw_all_s", float64(t-p.t0)/1e9)
		}
	}
	r.set("dropped", drops)
	r.set("channel_errors", chanErrs)
	if srvA.ok && srvB.ok {
		r.set("server_cpu_converge_s", srvB.cpu-srvA.cpu)
		r.set("server_rss_converged_mib", srvB.mib())
	}
	r.set("client_cpu_converge_s", selfB.cpu-selfA.cpu)

	leftOK := !*leave
	if *leave && stopped == "" {
		p.leaving.Store(true)
		t0 := e.now()
		if p.watcherKeys.Load() == 0 {
			p.markLeft(t0)
		}
		closed := make(chan float64, 1)
		go func() {
			e.closeAll(200, *leaveTime)
			closed <- float64(e.now()-t0) / 1e9
		}()
		t := time.NewTimer(*leaveTime)
		select {
		case <-p.left:
		case <-t.C:
		}
		t.Stop()
		srvC := readServer(c.pids)
		if at := p.leftAt.Load(); at > 0 {
			leftOK = true
			r.set("leave_converged_s", float64(at-t0)/1e9)
		} else {
			r.set("leave_converged_s", nil)
			r.set("watcher_keys_left", p.watcherKeys.Load())
		}
		if srvC.ok && srvB.ok {
			r.set("server_cpu_leave_s", srvC.cpu-srvB.cpu)
		}
		r.set("leave_closed_s", <-closed)
	} else {
		e.closeAll(200, 30*time.Second)
	}
	closeWatcher()

	var frames, bytes, states, diffs, leaveFrames int64
	for i := range *n {
		v := &p.views[i]
		frames, bytes, states, diffs, leaveFrames = frames+v.frames, bytes+v.bytes, states+v.states, diffs+v.diffs, leaveFrames+v.leaveFrames
	}
	r.set("frames", frames)
	r.set("mbytes", float64(bytes)/1e6)
	r.set("presence_state_frames", states)
	r.set("presence_diff_frames", diffs)
	if *leave {
		r.set("leave_frames", leaveFrames)
		r.set("watcher_frames", p.views[*n].frames)
	}
	r.set("bad_payloads", p.bad.Load())
	r.set("foreign_keys", p.foreign.Load())
	if stopped != "" {
		r.set("stopped", stopped)
	}
	ok := conv == int64(*n) && leftOK && stopped == "" && drops == 0 && chanErrs == 0 && p.bad.Load() == 0
	return c.finish(r, ok)
}
