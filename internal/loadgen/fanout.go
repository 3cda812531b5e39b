package loadgen

import (
	"context"
	"sync/atomic"
	"time"
)

// fanout tracks numbered messages ({"bn":n,"bt":t}) of one event sent to
// a fixed set of receivers: how many copies of each arrived, when the
// last did, and each copy's latency (in the receiving client's lat).
type fanout struct {
	event   string
	want    int32 // receivers per message
	exclude int   // the client whose copies are not counted (the ws sender)

	counts []atomic.Int32
	sendT  []atomic.Int64 // when message n was sent
	lastT  []atomic.Int64 // when its last copy arrived
	done   []chan struct{}

	extra   atomic.Int64 // copies beyond want (duplicates)
	reorder atomic.Int64 // a copy older than one the client had
	bad     atomic.Int64 // the event without a readable bn and bt
	stale   atomic.Int64 // a number outside the run
	last    atomic.Int64 // when the last copy of any message arrived
}

func newFanout(event string, receivers, msgs, exclude int) *fanout {
	b := &fanout{event: event, want: int32(receivers), exclude: exclude,
		counts: make([]atomic.Int32, msgs), sendT: make([]atomic.Int64, msgs),
		lastT: make([]atomic.Int64, msgs), done: make([]chan struct{}, msgs)}
	for i := range b.done {
		b.done[i] = make(chan struct{})
	}
	return b
}

func (b *fanout) onFrame(c *client, f *frame, now int64) {
	if string(f.event) != b.event || c.idx == b.exclude {
		return
	}
	n, ok1 := intField(f.payload, "bn")
	t, ok2 := intField(f.payload, "bt")
	switch {
	case !ok1 || !ok2:
		b.bad.Add(1)
		return
	case n < 0 || n >= int64(len(b.counts)):
		b.stale.Add(1)
		return
	}
	c.lat = append(c.lat, now-t)
	if n <= c.lastSeq {
		b.reorder.Add(1)
	} else {
		c.lastSeq = n
	}
	storeMax(&b.last, now)
	switch cnt := b.counts[n].Add(1); {
	case cnt == b.want:
		b.lastT[n].Store(now)
		close(b.done[n])
	case cnt > b.want:
		b.extra.Add(1)
	}
}

// wait waits until message n reached every receiver, at most limit.
func (b *fanout) wait(ctx context.Context, n int, limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-b.done[n]:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// tally counts, over the first sent messages, the copies delivered (at
// most want each) and the messages some receiver lacks.
func (b *fanout) tally(sent int) (delivered int64, incomplete int) {
	for n := range sent {
		cnt := b.counts[n].Load()
		delivered += int64(min(cnt, b.want))
		if cnt < b.want {
			incomplete++
		}
	}
	return delivered, incomplete
}

// fanoutTimes are the times from each complete message's send to its last
// copy.
func (b *fanout) fanoutTimes(sent int) []int64 {
	var out []int64
	for n := range sent {
		if l := b.lastT[n].Load(); l > 0 {
			out = append(out, l-b.sendT[n].Load())
		}
	}
	return out
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}
