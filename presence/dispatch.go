package presence

import (
	"context"
	"fmt"
	"runtime/debug"

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
	// release, when not nil, keeps this item, and everything queued
	// behind it on the shard, from being broadcast until it is closed
	// (TrackAndPushState pushes the presence_state first).
	release chan struct{}
}

// enqueue queues it behind the shard's earlier diffs. The caller holds
// sh.mu, so the diffs of a topic queue in the order its state changed.
// After Shutdown the diff is dropped.
func (t *Tracker) enqueue(sh *shard, it *diffItem) {
	if len(it.joins)+len(it.leaves) == 0 {
		return
	}
	_ = sh.diffs.Push(it)
}

// dispatch broadcasts a batch of the shard's diffs, in order, on the
// shard queue's goroutine. Consecutive diffs of a topic are merged; a
// held diff waits for its release, and the diffs behind it with it.
func (t *Tracker) dispatch(batch []*diffItem) {
	for len(batch) > 0 {
		if r := batch[0].release; r != nil {
			<-r
		}
		n := 1
		for n < len(batch) && batch[n].release == nil {
			n++
		}
		t.broadcastDiffs(batch[:n])
		batch = batch[n:]
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
