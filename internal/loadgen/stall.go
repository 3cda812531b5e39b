package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// stall: how soon a server cuts a client whose writer is stalled, and
// tells the others. A watcher joins one presence topic and reads; a
// victim, dialled with a small receive buffer, joins the same presence
// topic and a room topic, and then never reads, writes or closes its
// socket. -count broadcasts of -size bytes to the room (more than the
// kernel's send buffer for the victim holds) leave the server's writes to
// it blocked, with less than a MiB left for the server's own queue, so a
// bound on queued bytes does not trip: only a stall or idle timeout can
// cut the victim. -tail small broadcasts follow. t0 is when the last
// broadcast's POST returned. The figures: left_after_s, when the watcher
// got the presence_diff with the victim's leave (the server cut the
// connection and ended its channels), and server_closed_after_s, when
// the server's end of the victim's socket was first seen no longer
// ESTABLISHED, both from t0.

// stallWatcher finds the victim's join and leave in the presence diffs.
type stallWatcher struct {
	once   [2]sync.Once
	joined chan struct{}
	left   chan struct{}
	leftAt int64 // set before left is closed
}

func (w *stallWatcher) onFrame(_ *client, f *frame, now int64) {
	if string(f.event) != "presence_diff" {
		return
	}
	var d struct{ Joins, Leaves map[string]json.RawMessage }
	if json.Unmarshal(f.payload, &d) != nil {
		return
	}
	if _, ok := d.Joins["victim"]; ok {
		w.once[0].Do(func() { close(w.joined) })
	}
	if _, ok := d.Leaves["victim"]; ok {
		w.once[1].Do(func() { w.leftAt = now; close(w.left) })
	}
}

func runStall(c *common, args []string) int {
	fs := flag.NewFlagSet("stall", flag.ContinueOnError)
	c.flags(fs, "room:", 3*time.Minute)
	size := fs.Int("size", 700000, "padding of each large broadcast, in bytes")
	count := fs.Int("count", 5, "large broadcasts")
	tail := fs.Int("tail", 1, "small broadcasts after the large ones (a send into the full queue)")
	wait := fs.Duration("wait", 45*time.Second, "how long after t0 to wait for the victim's presence leave")
	grace := fs.Duration("grace", 5*time.Second, "after the leave, how long to wait for the server's end of the socket to close")
	rcvbuf := fs.Int("rcvbuf", 4096, "SO_RCVBUF of the victim, in bytes (the kernel doubles it)")
	if fs.Parse(args) != nil {
		return 2
	}
	e, ctx, cancel, r, err := c.start(2, false)
	if err != nil {
		return c.fail(err)
	}
	defer cancel()
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	presTopic := "presence:stall-" + hex.EncodeToString(id)
	roomTopic := c.prefix + "stall-" + hex.EncodeToString(id)
	r.set("presence_topic", presTopic)
	r.set("room_topic", roomTopic)
	r.set("size", *size)
	r.set("count", *count)
	r.set("tail", *tail)

	w := &stallWatcher{joined: make(chan struct{}), left: make(chan struct{})}
	if _, err := e.connect(ctx, 0, presTopic, []byte(`{"name":"watcher"}`), w.onFrame, nil); err != nil {
		return c.fail(fmt.Errorf("watcher: %w", err))
	}
	hbCtx, hbStop := context.WithCancel(ctx)
	hb := e.heartbeats(hbCtx)
	defer func() { hbStop(); hb.Wait(); e.closeAll(10, 10*time.Second) }()
	v, err := e.connectStalled(ctx, 1, presTopic, []byte(`{"name":"victim"}`), *rcvbuf)
	if err != nil {
		return c.fail(fmt.Errorf("victim: %w", err))
	}
	defer v.c.ws.CloseNow()
	v.c.topic = roomTopic
	if err := v.c.join(ctx, []byte(`{}`)); err != nil {
		return c.fail(fmt.Errorf("victim: %w", err))
	}
	select {
	case <-w.joined:
	case <-time.After(10 * time.Second):
		return c.fail(fmt.Errorf("the watcher did not see the victim's presence join"))
	}

	u, _ := url.Parse(c.urls[0])
	sw := &slowWatch{e: e, pids: c.pids, slow: []*stalled{v}}
	sw.server, _ = netip.ParseAddrPort(u.Host)
	sw.start()
	big := []byte(`{"pad":"` + strings.Repeat("x", *size) + `"}`)
	for i := range *count + *tail {
		body := big
		if i >= *count {
			body = []byte(`{"pad":""}`)
		}
		if err := e.postBroadcast(ctx, roomTopic, "shout", body); err != nil {
			sw.finish()
			return c.fail(fmt.Errorf("broadcast %d: %w", i, err))
		}
	}
	t0 := e.now()
	leftSeen := false
	select {
	case <-w.left:
		leftSeen = true
	case <-time.After(*wait):
	case <-ctx.Done():
	}
	// The server's end closes with the cut, just before the leave, or a
	// moment after.
	for deadline := time.Now().Add(*grace); sw.openCount() > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	sw.finish()

	secs := func(t int64) float64 { return float64(t-t0) / 1e9 }
	r.set("left_seen", leftSeen)
	if leftSeen {
		r.set("left_after_s", secs(w.leftAt))
	}
	sw.mu.Lock()
	if v.closedAt > 0 {
		r.set("server_closed_after_s", secs(v.closedAt))
		r.set("server_end", v.srvState)
	}
	r.set("server_sendq_peak_kib", float64(v.sendQPeak)/1024)
	sw.mu.Unlock()
	if leftSeen {
		fmt.Fprintf(c.stderr, "victim's presence leave seen %.2f s after the last broadcast\n", secs(w.leftAt))
	} else {
		fmt.Fprintf(c.stderr, "victim's presence leave not seen within %v\n", *wait)
	}
	return c.finish(r, leftSeen)
}
