package presence

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// maxDiffEntries bounds the metas of one presence_diff made by merging
// queued diffs. A burst of joins then costs a few broadcasts, not one per
// join, and no single frame grows without bound.
const maxDiffEntries = 1000

// defaultDiffWindow is [Options.DiffWindow] when zero: measured with
// 2,000 clients joining one topic (docs/benchmarks.md, "Presence").
const defaultDiffWindow = 25 * time.Millisecond

// diffItem is one change of one topic, queued on the topic's shard to be
// broadcast as presence_diff on this node. A phx_ref appears at most once
// in an item, so the order of its joins and leaves does not matter.
type diffItem struct {
	topic  string
	joins  []*entry
	leaves []*entry
	at     time.Time // When it was queued; it waits at most the window from then.
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
	if t.window > 0 {
		it.at = time.Now()
	}
	_ = sh.diffs.Push(it)
}

// dispatch broadcasts the shard's diffs on the shard queue's goroutine.
// It first waits until the oldest has waited the window, takes whatever
// was queued meanwhile, then waits for the held items' releases (each
// comes right after a presence_state push) and broadcasts everything,
// merged by topic. So a change waits at most the window, plus the time to
// broadcast what was queued before it.
func (t *Tracker) dispatch(sh *shard, batch []*diffItem) {
	if t.window > 0 {
		if d := time.Until(batch[0].at.Add(t.window)); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-t.closing:
				timer.Stop()
			}
		}
		if more := sh.diffs.Clear(); len(more) > 0 {
			batch = append(slices.Clone(batch), more...)
		}
	}
	for _, it := range batch {
		if it.release != nil {
			<-it.release
		}
	}
	t.broadcastDiffs(batch)
}

// broadcastDiffs merges the changes of each topic in batch into as few
// presence_diffs as maxDiffEntries allows, and broadcasts them on this
// node, topics in the order they first changed.
func (t *Tracker) broadcastDiffs(batch []*diffItem) {
	var order []string
	byTopic := make(map[string][]*diffItem)
	for _, it := range batch {
		if _, ok := byTopic[it.topic]; !ok {
			order = append(order, it.topic)
		}
		byTopic[it.topic] = append(byTopic[it.topic], it)
	}
	for _, topic := range order {
		for _, d := range mergeDiffs(topic, byTopic[topic], maxDiffEntries) {
			t.emit(d)
		}
	}
}

// change is one join or leave in the merge of a topic's diffs.
type change struct {
	e     *entry
	leave bool
	dead  bool // Cancelled by a later join of its phx_ref.
}

// mergeDiffs turns a topic's diffs, oldest first, into diffs of at most
// limit metas (at least one) that leave a phoenix.js client in the state
// the diffs one by one would.
//
// phoenix.js applies a diff's joins (appending each key's joined metas
// after the metas it keeps) before its leaves (removing metas by
// phx_ref). So, for each phx_ref, by its changes in the batch:
//
//   - join, then leave (a short stay): both go, in one diff or the join
//     first; the client adds the meta, then removes it, and fires onJoin
//     then onLeave as with two diffs.
//   - leave, then join (a node that went down and came back keeps its
//     refs): only the join goes. The leave would otherwise be applied
//     after the join and take the meta away.
//   - any changes ending with a join: only that last join goes, at its
//     place among the key's joins, so a key's metas end up in the order
//     the tracker lists them.
//
// Joins keep their order within a key, so merging never reorders a key's
// metas. Refs never come back except through a node going down and up.
func mergeDiffs(topic string, items []*diffItem, limit int) []*diffItem {
	var changes []change
	var live map[string][]int // phx_ref → indexes of its live changes; made when needed.
	note := func(ref string, i int) {
		if live == nil {
			live = make(map[string][]int)
		}
		live[ref] = append(live[ref], i)
	}
	repeated := len(items) > 1
	for _, it := range items {
		for _, e := range it.leaves {
			if repeated {
				note(e.meta.Ref, len(changes))
			}
			changes = append(changes, change{e: e, leave: true})
		}
		for _, e := range it.joins {
			if repeated {
				if idx := live[e.meta.Ref]; len(idx) > 0 {
					for _, i := range idx {
						changes[i].dead = true
					}
					live[e.meta.Ref] = idx[:0]
				}
				note(e.meta.Ref, len(changes))
			}
			changes = append(changes, change{e: e})
		}
	}
	var out []*diffItem
	var cur *diffItem
	for _, c := range changes {
		if c.dead {
			continue
		}
		if cur == nil || len(cur.joins)+len(cur.leaves) >= limit {
			cur = &diffItem{topic: topic}
			out = append(out, cur)
		}
		if c.leave {
			cur.leaves = append(cur.leaves, c.e)
		} else {
			cur.joins = append(cur.joins, c.e)
		}
	}
	return out
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
