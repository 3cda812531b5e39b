package nats

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// quietPeriod is how long no broadcast must be dropped, with the
// connection up, for an episode of drops to end. It bounds the log lines
// of a node that drops broadcasts on and off (bursts faster than the
// connection) to two per quietPeriod.
const quietPeriod = 5 * time.Second

// health follows the connection and the episodes in which broadcasts are
// lost, and logs each episode twice: a warning when it starts, and a
// summary when it ends, with the number of broadcasts dropped in between.
// Never once per message.
//
// An episode starts when the connection drops (nats.go's disconnect
// handler) or when a broadcast is dropped, whichever comes first. It ends
// when the connection is back (the reconnect handler): "nats reachable
// again"; or, if the connection stayed up (a stalled socket, bursts faster
// than the connection), once no broadcast has been dropped for
// quietPeriod: "nats caught up". A timer checks the latter.
type health struct {
	log       *slog.Logger
	bufSize   int         // nats.go's ReconnectBufSize, for the log.
	connected atomic.Bool // Between a connect or reconnect and a disconnect.

	mu       sync.Mutex // Protects the following.
	active   bool       // An episode is going on.
	outage   bool       // The connection dropped during the episode.
	down     bool       // The connection is down.
	closed   bool       // The adapter is closing: no more episodes.
	since    time.Time  // When the episode started.
	dropped  uint64     // Broadcasts dropped since.
	lastDrop time.Time
	timer    *time.Timer // Runs check; nil until the first drop.
	armed    bool        // timer is set to fire.
}

// disconnected records that the connection dropped, with nats.go's error.
func (h *health) disconnected(err error) {
	h.connected.Store(false)
	h.mu.Lock()
	h.down = true
	start := h.begin()
	h.outage = true
	h.mu.Unlock()
	if start {
		h.log.Warn("nats unreachable: broadcasts to other nodes are buffered, then dropped, until it is back",
			"err", err, "buffer_bytes", h.bufSize)
	}
}

// drop records a broadcast dropped because of err.
func (h *health) drop(err error) {
	h.mu.Lock()
	start := h.begin()
	h.dropped++
	h.lastDrop = time.Now()
	h.arm(quietPeriod)
	h.mu.Unlock()
	if start {
		h.log.Warn("nats: dropping broadcasts to other nodes", "err", err)
	}
}

// begin starts an episode unless one is going on or the adapter is
// closing, and reports whether it did. h.mu must be held.
func (h *health) begin() bool {
	if h.active || h.closed {
		return false
	}
	h.active, h.outage, h.since, h.dropped = true, false, time.Now(), 0
	return true
}

// arm sets the timer to check in d, unless it is set. h.mu must be held.
func (h *health) arm(d time.Duration) {
	switch {
	case h.armed || h.closed:
	case h.timer == nil:
		h.timer, h.armed = time.AfterFunc(d, h.check), true
	default:
		h.timer.Reset(d)
		h.armed = true
	}
}

// check ends an episode of drops with the connection up once no broadcast
// has been dropped for quietPeriod. It runs on the timer's goroutine.
func (h *health) check() {
	h.mu.Lock()
	h.armed = false
	var s summary
	if h.active && !h.down && !h.closed {
		if wait := quietPeriod - time.Since(h.lastDrop); wait > 0 {
			h.arm(wait)
		} else {
			s = h.end("nats caught up")
		}
	}
	h.mu.Unlock()
	s.log(h.log)
}

// reconnected records that the connection is back, which ends the
// episode.
func (h *health) reconnected() {
	h.connected.Store(true)
	h.mu.Lock()
	h.down = false
	s := h.end("nats reachable again")
	h.mu.Unlock()
	s.log(h.log)
}

// close ends the episode going on, if any, and stops the timer: the
// adapter is closing. A check running now does nothing.
func (h *health) close() {
	h.mu.Lock()
	s := h.end("nats adapter closed while broadcasts were dropped")
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
	s.log(h.log)
}

// summary is what is logged at the end of an episode.
type summary struct {
	msg     string // "" if no episode ended.
	since   time.Time
	dropped uint64
}

// end ends the episode going on, if any, to be logged with msg. h.mu
// must be held.
func (h *health) end(msg string) summary {
	if !h.active {
		return summary{}
	}
	s := summary{msg: msg, since: h.since, dropped: h.dropped}
	h.active, h.outage, h.dropped = false, false, 0
	return s
}

func (s summary) log(l *slog.Logger) {
	if s.msg != "" {
		l.Info(s.msg, "dropped", s.dropped, "since", s.since, "duration", time.Since(s.since).Round(time.Millisecond))
	}
}

// throttle lets something happen at most once per period, such as a log
// line about bad input that may come in floods.
type throttle struct {
	last atomic.Int64 // UnixNano of the last time allowed, or 0.
}

func (t *throttle) allow(period time.Duration) bool {
	now := time.Now().UnixNano()
	last := t.last.Load()
	if last != 0 && now-last < int64(period) {
		return false
	}
	return t.last.CompareAndSwap(last, now)
}
