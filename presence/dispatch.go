package presence

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// maxDiffEntries bounds the metas of one presence_diff made by merging
// queued diffs. A burst of joins then costs a few broadcasts, not one per
// join, and no single frame grows without bound.
const maxDiffEntries = 1000

// diffItem is one change of one topic, queued on the topic's shard to be
// broadcast as presence_diff on this node.
type diffItem struct {
	topic  string
	joins  []*entry
	leaves []*entry
	// held keeps this item, and everything queued behind it on the shard,
	// from being broadcast until released (TrackAndPushState pushes the
	// presence_state first). Protected by shard.qmu.
	held bool
}

// enqueue queues it behind the shard's earlier diffs. The caller holds
// sh.mu, so the diffs of a topic queue in the order its state changed.
func (t *Tracker) enqueue(sh *shard, it *diffItem) {
	if len(it.joins)+len(it.leaves) == 0 {
		return
	}
	sh.qmu.Lock()
	sh.queue = append(sh.queue, it)
	t.startDispatch(sh)
	sh.qmu.Unlock()
}

// release lets a held item go.
func (t *Tracker) release(sh *shard, it *diffItem) {
	sh.qmu.Lock()
	it.held = false
	t.startDispatch(sh)
	sh.qmu.Unlock()
}

// startDispatch starts the shard's dispatcher when there is a diff ready
// and none is running. sh.qmu must be held.
func (t *Tracker) startDispatch(sh *shard) {
	if sh.running || len(sh.queue) == 0 || sh.queue[0].held {
		return
	}
	if t.goWork(func() { t.dispatch(sh) }) {
		sh.running = true
	}
}

// dispatch broadcasts the shard's queued diffs, in order, until the queue
// is empty or its head is held. Everything ready when it looks is taken at
// once and merged per topic.
func (t *Tracker) dispatch(sh *shard) {
	for {
		sh.qmu.Lock()
		n := 0
		for n < len(sh.queue) && !sh.queue[n].held {
			n++
		}
		if n == 0 {
			if len(sh.queue) == 0 {
				sh.queue = nil
			}
			sh.running = false
			sh.qmu.Unlock()
			return
		}
		batch := slices.Clone(sh.queue[:n])
		clear(sh.queue[:n])
		sh.queue = sh.queue[n:]
		sh.qmu.Unlock()
		t.broadcastDiffs(batch)
	}
}

// broadcastDiffs merges consecutive changes of each topic (up to
// maxDiffEntries metas) and broadcasts them on this node. Merging keeps
// the client's result: phoenix.js applies a diff's joins before its
// leaves, and a phx_ref only ever joins, then leaves.
func (t *Tracker) broadcastDiffs(batch []*diffItem) {
	var order []string
	groups := make(map[string][]*diffItem)
	for _, it := range batch {
		chunks := groups[it.topic]
		if chunks == nil {
			order = append(order, it.topic)
		}
		var cur *diffItem
		if len(chunks) > 0 {
			cur = chunks[len(chunks)-1]
		}
		size := func(d *diffItem) int { return len(d.joins) + len(d.leaves) }
		if cur == nil || size(cur)+size(it) > maxDiffEntries {
			cur = &diffItem{topic: it.topic}
			groups[it.topic] = append(chunks, cur)
		}
		cur.joins = append(cur.joins, it.joins...)
		cur.leaves = append(cur.leaves, it.leaves...)
	}
	for _, topic := range order {
		for _, d := range groups[topic] {
			t.emit(d)
		}
	}
}

// emit broadcasts one presence_diff to this node's subscribers of the
// topic. The payload is built once; the PubSub encodes the frame once per
// serializer, as for any broadcast.
func (t *Tracker) emit(d *diffItem) {
	joins, leaves := group(d.joins), group(d.leaves)
	if t.opts.Fetch != nil {
		t.fetch(t.ctx, d.topic, joins)
		t.fetch(t.ctx, d.topic, leaves)
	}
	b, err := appendDiff(nil, joins, leaves)
	if err != nil {
		t.log.Error("presence diff cannot be encoded; sent without the fetched fields", "topic", d.topic, "err", err)
		b, _ = appendDiff(nil, group(d.joins), group(d.leaves)) // Metas always encode.
	}
	t.ps.LocalBroadcast(&pubsub.Message{Topic: d.topic, Event: EventDiff, Payload: protocol.JSON(b)})
}

// group turns entries into presences by key, keeping their order.
func group(entries []*entry) map[string]*Presence {
	out := make(map[string]*Presence)
	for _, e := range entries {
		p := out[e.key]
		if p == nil {
			p = &Presence{}
			out[e.key] = p
		}
		p.Metas = append(p.Metas, e.meta)
	}
	return out
}

// appendDiff encodes {"joins": {...}, "leaves": {...}}.
func appendDiff(b []byte, joins, leaves map[string]*Presence) ([]byte, error) {
	b = append(b, `{"joins":`...)
	b, err := appendPresences(b, joins)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"leaves":`...)
	if b, err = appendPresences(b, leaves); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// fetch runs the Fetch hook. A panic is logged with its stack and the
// presences stay as they were.
func (t *Tracker) fetch(ctx context.Context, topic string, presences map[string]*Presence) (err error) {
	if t.opts.Fetch == nil || len(presences) == 0 {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			t.log.Error("presence fetch panicked", "topic", topic, "err", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("presence: fetch panicked: %v", r)
		}
	}()
	t.opts.Fetch(ctx, topic, presences)
	return nil
}
