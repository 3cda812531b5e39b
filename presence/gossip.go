package presence

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// Replication, in the spirit of Phoenix.Tracker but simpler, because each
// node only ever changes its own entries:
//
//   - every change of a local entry gets the next number of this node's
//     sequence (seq) and is sent to the other nodes in a "heartbeat"
//     message on the gossip topic, soon after it happens;
//   - a heartbeat is also sent every BroadcastPeriod, with the current seq
//     and no changes, so that silence means trouble;
//   - a node applies another node's changes in seq order. A change it has
//     already applied (a duplicate) is skipped; a gap (a lost or
//     reordered message) is held back and answered by asking that node
//     for its whole state ("transfer_req", answered directly with
//     "transfer_ack"), which replaces what it had from that node;
//   - a node that hears of a new node sends it its whole state at once,
//     so a node that starts gets everyone's entries without asking;
//   - a node silent for DownPeriod, or that said "goodbye" (Shutdown), is
//     dropped: its entries leave. If it speaks again it is new, and its
//     state comes back as joins;
//   - a node that restarts (same name, another vsn) replaces the old one.
//
// Every change applied, local or remote, is broadcast as presence_diff on
// this node only (LocalBroadcast): each node tells its own subscribers,
// and a diff never crosses nodes, so nobody gets it twice.
//
// Messages are JSON, and only the PubSub interface is used, so the scheme
// works over any adapter. All of it runs on one goroutine at a time (the
// gossip worker, started while there is work), which owns the replicas;
// Track, Update and List never wait for it.

// Gossip events.
const (
	evHeartbeat   = "heartbeat"
	evTransferReq = "transfer_req"
	evTransferAck = "transfer_ack"
	evGoodbye     = "goodbye"
)

// maxOpsPerMessage bounds a heartbeat; more changes go in several.
const maxOpsPerMessage = 500

// maxPending bounds the changes held back behind a gap; past it they are
// dropped, as the state transfer will carry them anyway.
const maxPending = 100_000

// replicaRef names one incarnation of a tracker: its node and a random vsn
// chosen at New.
type replicaRef struct {
	Node string `json:"node"`
	Vsn  string `json:"vsn"`
}

// wireOp is one change: an add carries the meta (with its phx_ref), a
// remove the ref.
type wireOp struct {
	Seq   uint64          `json:"s"`
	Topic string          `json:"t"`
	Key   string          `json:"k"`
	Ref   string          `json:"r,omitempty"`
	Meta  json.RawMessage `json:"m,omitempty"`
}

// heartbeat says: I am alive at seq, and here are my changes after base.
type heartbeat struct {
	From replicaRef `json:"from"`
	Base uint64     `json:"base"`
	Seq  uint64     `json:"seq"`
	Ops  []wireOp   `json:"ops,omitempty"`
}

type transferReq struct {
	From replicaRef `json:"from"`
	To   replicaRef `json:"to"`
}

// transferAck is a node's whole state at seq.
type transferAck struct {
	From    replicaRef `json:"from"`
	To      replicaRef `json:"to"`
	Seq     uint64     `json:"seq"`
	Entries []wireOp   `json:"entries"`
}

type goodbye struct {
	From replicaRef `json:"from"`
}

// op is a local change waiting to be sent.
type op struct {
	seq    uint64
	add    *entry
	remove *entry
}

func (o op) wire() wireOp {
	if o.add != nil {
		return wireOp{Seq: o.seq, Topic: o.add.topic, Key: o.add.key, Meta: o.add.meta.raw}
	}
	return wireOp{Seq: o.seq, Topic: o.remove.topic, Key: o.remove.key, Ref: o.remove.meta.Ref}
}

// outbox numbers local changes and keeps those not sent yet.
type outbox struct {
	mu    sync.Mutex // Protects the following. Taken after shard.mu.
	seq   uint64
	ops   []op
	peers bool // Other nodes are known: keep ops to send (else only count).
}

// replica is what this node knows of another node. Owned by the worker.
type replica struct {
	ref       replicaRef
	seq       uint64 // Every change up to seq is applied.
	synced    bool   // seq is meaningful: we have its state or its start.
	pending   []wireOp
	entries   map[string]*entry // by phx_ref
	lastSeen  time.Time
	requested time.Time // Last transfer_req sent.
}

// gossip is the worker's mailbox and state.
type gossip struct {
	inbox *workq.Queue[gossipWork] // Served by the worker.

	mu    sync.Mutex // Protects timer.
	timer *time.Timer

	replicas map[string]*replica // by node name; owned by the worker
}

// gossipWork is one item of the worker's mailbox: a message from another
// node, or a request to flush the changes not sent yet (with a heartbeat
// when tick is set).
type gossipWork struct {
	m     *pubsub.Message
	flush bool
	tick  bool
}

// record gives ops their seq, and keeps them for the next heartbeat when
// other nodes are known. The caller holds the topic's shard mu, so seq
// order is the order of the changes on each topic.
func (t *Tracker) record(ops ...op) {
	t.out.mu.Lock()
	peers := t.out.peers
	for _, o := range ops {
		t.out.seq++
		if peers {
			o.seq = t.out.seq
			t.out.ops = append(t.out.ops, o)
		}
	}
	t.out.mu.Unlock()
	if peers {
		t.post(nil, true, false)
	}
}

func (t *Tracker) setPeers(peers bool) {
	t.out.mu.Lock()
	if t.out.peers != peers {
		t.out.peers = peers
		t.out.ops = nil
	}
	t.out.mu.Unlock()
}

func (t *Tracker) startGossip() error {
	t.g.replicas = make(map[string]*replica)
	t.g.inbox = workq.New(&t.group, t.work, nil)
	sub, err := t.ps.Subscribe(t.topic, pubsub.SubscriberFunc(func(m *pubsub.Message) {
		t.post(m, false, false)
	}))
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	t.sub = sub
	t.g.mu.Lock()
	t.g.timer = time.AfterFunc(t.opts.BroadcastPeriod, t.onTick)
	t.g.mu.Unlock()
	t.post(nil, false, true) // Announce this node now.
	return nil
}

func (t *Tracker) onTick() {
	t.g.mu.Lock()
	if !t.isDown.Load() {
		t.g.timer.Reset(t.opts.BroadcastPeriod)
	}
	t.g.mu.Unlock()
	t.post(nil, false, true)
}

// stopGossip runs at Shutdown: no more ticks, no more messages in.
func (t *Tracker) stopGossip() {
	t.g.mu.Lock()
	t.g.timer.Stop()
	t.g.mu.Unlock()
	t.g.inbox.Close()
	t.g.inbox.Clear()
	t.sub.Unsubscribe()
}

func (t *Tracker) sayGoodbye(ctx context.Context) {
	t.send(ctx, "", evGoodbye, goodbye{From: t.self})
}

// post hands the worker a message, a flush or a tick.
func (t *Tracker) post(m *pubsub.Message, flush, tick bool) {
	_ = t.g.inbox.Push(gossipWork{m: m, flush: flush, tick: tick})
}

// work serves a batch of the mailbox: the messages in order, then one
// flush for every flush or tick asked.
func (t *Tracker) work(batch []gossipWork) {
	if t.isDown.Load() {
		return
	}
	var flush, tick bool
	for _, w := range batch {
		if w.m != nil {
			t.handle(w.m)
		}
		flush, tick = flush || w.flush, tick || w.tick
	}
	if flush || tick {
		t.flush(tick)
	}
	if tick {
		t.checkReplicas()
	}
}

// flush sends the changes not sent yet; with heartbeat set, it sends a
// heartbeat even when there are none.
func (t *Tracker) flush(heartbeat bool) {
	t.out.mu.Lock()
	ops, seq := t.out.ops, t.out.seq
	t.out.ops = nil
	t.out.mu.Unlock()
	for len(ops) > 0 {
		n := min(len(ops), maxOpsPerMessage)
		t.sendOps(ops[:n])
		ops = ops[n:]
		heartbeat = false
	}
	if heartbeat {
		t.send(t.ctx, "", evHeartbeat, heartbeatMsg(t.self, seq, seq, nil))
	}
}

func (t *Tracker) sendOps(ops []op) {
	w := make([]wireOp, len(ops))
	for i, o := range ops {
		w[i] = o.wire()
	}
	t.send(t.ctx, "", evHeartbeat, heartbeatMsg(t.self, ops[0].seq-1, ops[len(ops)-1].seq, w))
}

func heartbeatMsg(from replicaRef, base, seq uint64, ops []wireOp) heartbeat {
	return heartbeat{From: from, Base: base, Seq: seq, Ops: ops}
}

// send broadcasts a gossip message to every node, or to node only.
func (t *Tracker) send(ctx context.Context, node, event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.log.Error("presence gossip cannot be encoded", "event", event, "err", err)
		return
	}
	m := &pubsub.Message{Topic: t.topic, Event: event, Payload: protocol.JSON(b), From: t.sub}
	ctx, cancel := context.WithTimeout(ctx, t.opts.BroadcastPeriod)
	defer cancel()
	if node == "" {
		err = t.ps.Broadcast(ctx, m)
	} else {
		err = t.ps.DirectBroadcast(ctx, node, m)
	}
	if err != nil {
		t.log.Warn("presence gossip not sent", "event", event, "node", node, "err", err)
	}
}

// handle applies one gossip message from another node.
func (t *Tracker) handle(m *pubsub.Message) {
	var err error
	switch m.Event {
	case evHeartbeat:
		var hb heartbeat
		if err = json.Unmarshal(m.Payload.Bytes(), &hb); err == nil && hb.From != t.self {
			r, _ := t.seen(hb.From)
			t.applyHeartbeat(r, &hb)
		}
	case evTransferReq:
		var req transferReq
		if err = json.Unmarshal(m.Payload.Bytes(), &req); err == nil && req.To == t.self {
			if _, met := t.seen(req.From); !met {
				t.sendState(req.From) // (seen sent it to a new node already)
			}
		}
	case evTransferAck:
		var ack transferAck
		if err = json.Unmarshal(m.Payload.Bytes(), &ack); err == nil && ack.To == t.self {
			r, _ := t.seen(ack.From)
			t.applyState(r, &ack)
		}
	case evGoodbye:
		var bye goodbye
		if err = json.Unmarshal(m.Payload.Bytes(), &bye); err == nil {
			if r := t.g.replicas[bye.From.Node]; r != nil && r.ref == bye.From {
				t.dropReplica(r, "goodbye")
			}
		}
	}
	if err != nil {
		t.log.Error("presence gossip cannot be read", "event", m.Event, "err", err)
	}
}

// seen returns the replica ref speaks for, registering it (and sending it
// this node's state) when it is new, and notes that it is alive.
func (t *Tracker) seen(ref replicaRef) (r *replica, met bool) {
	r = t.g.replicas[ref.Node]
	if r != nil && r.ref.Vsn != ref.Vsn {
		t.dropReplica(r, "restarted")
		r = nil
	}
	now := time.Now()
	if r == nil {
		t.log.Debug("presence node up", "node", ref.Node)
		r = &replica{ref: ref, entries: make(map[string]*entry)}
		t.g.replicas[ref.Node] = r
		t.setPeers(true)
		t.sendState(ref)
		met = true
	}
	r.lastSeen = now
	return r, met
}

// applyHeartbeat applies a node's changes in seq order: duplicates are
// skipped, changes after a gap wait for the state transfer.
func (t *Tracker) applyHeartbeat(r *replica, hb *heartbeat) {
	if !r.synced && hb.Base == 0 && r.seq == 0 {
		r.synced = true // The node's first changes: nothing came before.
	}
	if !r.synced || hb.Base > r.seq {
		t.hold(r, hb.Ops)
		t.requestState(r)
		return
	}
	var fresh []wireOp
	for _, o := range hb.Ops {
		if o.Seq == r.seq+1 {
			fresh = append(fresh, o)
			r.seq = o.Seq
		}
	}
	fresh = append(fresh, t.unhold(r)...) // A late message may close a gap.
	t.applyOps(r, fresh)
	if hb.Seq > r.seq {
		t.requestState(r) // It says it is further than its changes took us.
	}
}

// hold keeps changes that cannot be applied yet.
func (t *Tracker) hold(r *replica, ops []wireOp) {
	if len(r.pending)+len(ops) > maxPending {
		r.pending = nil
		return
	}
	r.pending = append(r.pending, ops...)
}

// requestState asks r for its whole state, at most once per period.
func (t *Tracker) requestState(r *replica) {
	now := time.Now()
	if !r.requested.IsZero() && now.Sub(r.requested) < t.opts.BroadcastPeriod {
		return
	}
	r.requested = now
	t.send(t.ctx, r.ref.Node, evTransferReq, transferReq{From: t.self, To: r.ref})
}

// sendState sends this node's whole state to another node.
func (t *Tracker) sendState(to replicaRef) {
	for i := range t.shards {
		t.shards[i].mu.RLock()
	}
	t.out.mu.Lock()
	seq := t.out.seq
	t.out.mu.Unlock()
	entries := []wireOp{}
	for i := range t.shards {
		for _, ts := range t.shards[i].topics {
			for _, e := range ts.byRef {
				if !e.owner.remote() {
					entries = append(entries, wireOp{Topic: e.topic, Key: e.key, Meta: e.meta.raw})
				}
			}
		}
	}
	for i := range t.shards {
		t.shards[i].mu.RUnlock()
	}
	t.send(t.ctx, to.Node, evTransferAck, transferAck{From: t.self, To: to, Seq: seq, Entries: entries})
}

// applyState replaces what this node has of r with r's state at ack.Seq,
// then applies the held changes that follow it.
func (t *Tracker) applyState(r *replica, ack *transferAck) {
	if r.synced && ack.Seq <= r.seq {
		return // Not newer than what we have.
	}
	want := make(map[string]wireOp, len(ack.Entries))
	for _, w := range ack.Entries {
		m, err := decodeMeta(w.Meta)
		if err != nil {
			t.log.Error("presence state entry cannot be read", "node", r.ref.Node, "err", err)
			continue
		}
		w.Ref = m.Ref
		want[m.Ref] = w
	}
	var ops []wireOp
	for ref, e := range r.entries {
		if _, ok := want[ref]; !ok {
			ops = append(ops, wireOp{Topic: e.topic, Key: e.key, Ref: ref})
		}
	}
	for ref, w := range want {
		if r.entries[ref] == nil {
			w.Ref = ""
			ops = append(ops, w)
		}
	}
	t.applyOps(r, ops)
	r.seq, r.synced, r.requested = ack.Seq, true, time.Time{}
	t.applyOps(r, t.unhold(r))
}

// unhold takes the held changes that now follow r.seq without a gap,
// advancing r.seq, and drops those already applied.
func (t *Tracker) unhold(r *replica) []wireOp {
	if len(r.pending) == 0 {
		return nil
	}
	slices.SortFunc(r.pending, func(a, b wireOp) int { return cmp.Compare(a.Seq, b.Seq) })
	var fresh []wireOp
	i := 0
	for ; i < len(r.pending); i++ {
		o := r.pending[i]
		if o.Seq <= r.seq {
			continue
		}
		if o.Seq != r.seq+1 {
			break
		}
		fresh = append(fresh, o)
		r.seq = o.Seq
	}
	r.pending = slices.Clone(r.pending[i:])
	if len(r.pending) == 0 {
		r.pending = nil
	}
	return fresh
}

// applyOps applies changes of r, topic by topic, each topic's as one diff.
func (t *Tracker) applyOps(r *replica, ops []wireOp) {
	if len(ops) == 0 {
		return
	}
	var order []string
	byTopic := make(map[string][]wireOp)
	for _, o := range ops {
		if _, ok := byTopic[o.Topic]; !ok {
			order = append(order, o.Topic)
		}
		byTopic[o.Topic] = append(byTopic[o.Topic], o)
	}
	owner := ownerKey{node: r.ref.Node}
	for _, topic := range order {
		sh := t.shard(topic)
		it := &diffItem{topic: topic}
		// A diff holds a phx_ref once: a ref that changes again (removed
		// and added back) starts the next diff, so the changes keep their
		// order when diffs are merged.
		var inItem map[string]bool
		touch := func(ref string) {
			if inItem == nil {
				inItem = make(map[string]bool)
			} else if inItem[ref] {
				t.enqueue(sh, it)
				it = &diffItem{topic: topic}
				clear(inItem)
			}
			inItem[ref] = true
		}
		sh.mu.Lock()
		ts := sh.topic(topic, true)
		for _, o := range byTopic[topic] {
			if o.Meta == nil { // A remove.
				if e := r.entries[o.Ref]; e != nil && ts.byRef[o.Ref] == e {
					ts.remove(e)
					delete(r.entries, o.Ref)
					touch(o.Ref)
					it.leaves = append(it.leaves, e)
				}
				continue
			}
			m, err := decodeMeta(o.Meta)
			if err != nil {
				t.log.Error("presence change cannot be read", "node", r.ref.Node, "topic", topic, "err", err)
				continue
			}
			if ts.byRef[m.Ref] != nil {
				continue
			}
			e := &entry{topic: topic, key: o.Key, qkey: appendString(nil, o.Key), owner: owner, meta: m}
			ts.add(e)
			r.entries[m.Ref] = e
			touch(m.Ref)
			it.joins = append(it.joins, e)
		}
		sh.dropIfEmpty(topic, ts)
		t.enqueue(sh, it)
		sh.mu.Unlock()
	}
}

// dropReplica removes a node and its entries, each reported as a leave.
func (t *Tracker) dropReplica(r *replica, why string) {
	t.log.Debug("presence node down", "node", r.ref.Node, "reason", why, "entries", len(r.entries))
	ops := make([]wireOp, 0, len(r.entries))
	for ref, e := range r.entries {
		ops = append(ops, wireOp{Topic: e.topic, Key: e.key, Ref: ref})
	}
	t.applyOps(r, ops)
	delete(t.g.replicas, r.ref.Node)
	if len(t.g.replicas) == 0 {
		t.setPeers(false)
	}
}

// checkReplicas runs every period: silent nodes are dropped, and nodes we
// are behind on are asked for their state again.
func (t *Tracker) checkReplicas() {
	now := time.Now()
	for _, r := range t.g.replicas {
		switch {
		case now.Sub(r.lastSeen) > t.opts.DownPeriod:
			t.dropReplica(r, "silent for the down period")
		case !r.synced || r.pending != nil:
			t.requestState(r)
		}
	}
}
