package presence

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// The events phoenix.js Presence listens to.
const (
	// EventState is the full list, pushed to a client after it joins.
	EventState = "presence_state"
	// EventDiff is a change, broadcast to the topic: {"joins", "leaves"}.
	EventDiff = "presence_diff"
)

// Options configure a [Tracker]. The zero value works.
type Options struct {
	// Name tells apart trackers that share a PubSub. The nodes of one
	// tracker replicate through the topic "phx_presence:" + Name, so a
	// name must be used by one tracker per node. If empty, "pyre".
	Name string

	// Fetch, if set, enriches presences before they are sent or returned,
	// like Phoenix.Presence's fetch/2: it may set Extra on each Presence
	// (say, the user's profile, loaded once for the whole list) and must
	// keep Metas. It is called for List, Get and presence_state, and for
	// the joins and the leaves of every presence_diff, from the
	// tracker's goroutines, never under a lock. A panic is logged and the
	// presences go out as the hook left them.
	Fetch func(ctx context.Context, topic string, presences map[string]*Presence)

	// BroadcastPeriod is how often a node tells the others it is alive,
	// with the changes it has not sent yet. Changes are otherwise sent as
	// soon as they happen. If zero, 1.5 s (Phoenix's broadcast_period).
	BroadcastPeriod time.Duration

	// DownPeriod is how long a node may stay silent before the others
	// drop its entries, each reported as a leave. It must be at least
	// twice BroadcastPeriod. If zero, 30 s (Phoenix's down_period).
	DownPeriod time.Duration

	// DiffWindow is how long a topic's changes are gathered into one
	// presence_diff: the first change queued on an idle topic waits this
	// long, and every change of the topic made meanwhile goes out with it,
	// merged (at most 1,000 metas per diff). In a room of N members, N
	// joins over T then cost about N × T / (2 × DiffWindow) frames rather
	// than N²/2, at the price of up to DiffWindow more latency per change.
	// If zero, 25 ms; if negative, no wait: only the changes queued while
	// the previous diff was being broadcast are merged.
	DiffWindow time.Duration

	// Logger receives errors (a Fetch panic, a gossip message that cannot
	// be read) and debug lines about nodes going up and down. If nil,
	// slog.Default().
	Logger *slog.Logger
}

// Tracker is presence on top of a [pubsub.PubSub]: Phoenix.Presence and
// Phoenix.Tracker in one. It keeps who is on each topic, broadcasts each
// change as presence_diff to the topic's subscribers on this node, and
// replicates this node's entries to the trackers of the same name on the
// other nodes of the PubSub, which broadcast them to their own subscribers.
//
// State is sharded by topic: calls on different topics do not wait for
// each other, and List never waits for the network. Diffs are broadcast
// by a goroutine per shard, started while there is work, in the order the
// changes happened; a topic's changes within [Options.DiffWindow] go out
// merged in one diff.
//
// All methods are safe for concurrent use.
type Tracker struct {
	ps    *pubsub.PubSub
	opts  Options
	log   *slog.Logger
	topic string // The gossip topic.
	self  replicaRef
	refs  *refs
	seed  maphash.Seed

	ctx    context.Context // Canceled by Shutdown.
	cancel context.CancelFunc

	window  time.Duration // Options.DiffWindow, resolved; 0 for none.
	closing chan struct{} // Closed when Shutdown begins: diffs stop waiting.

	shards [numShards]shard
	owners [numShards]ownerShard

	out outbox
	g   gossip
	sub *pubsub.Subscription // To the gossip topic.

	sockMu  sync.Mutex // Protects sockets.
	sockets map[*channel.Socket]func() bool

	// group owns the tracker's goroutines: a diff queue's per shard and
	// the gossip worker's, each running while it has work. Shutdown
	// closes it and waits for them.
	group    workq.Group
	isDown   atomic.Bool // Shutdown has begun.
	shutOnce sync.Once
}

// New returns a tracker bound to ps, named after ps.Node() in the
// cluster. It subscribes to its gossip topic and announces itself to the
// other nodes. Call Shutdown to stop it.
func New(ps *pubsub.PubSub, opts *Options) (*Tracker, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "pyre"
	}
	if o.BroadcastPeriod == 0 {
		o.BroadcastPeriod = 1500 * time.Millisecond
	}
	if o.DownPeriod == 0 {
		o.DownPeriod = 30 * time.Second
	}
	if o.BroadcastPeriod < 0 || o.DownPeriod < 2*o.BroadcastPeriod {
		return nil, fmt.Errorf("presence: DownPeriod (%v) must be at least twice BroadcastPeriod (%v)", o.DownPeriod, o.BroadcastPeriod)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	t := &Tracker{
		ps:      ps,
		opts:    o,
		log:     o.Logger.With("component", "presence", "tracker", o.Name),
		topic:   "phx_presence:" + o.Name,
		self:    replicaRef{Node: ps.Node(), Vsn: randomID()},
		refs:    newRefs(),
		seed:    maphash.MakeSeed(),
		sockets: make(map[*channel.Socket]func() bool),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	switch {
	case o.DiffWindow == 0:
		t.window = defaultDiffWindow
	case o.DiffWindow > 0:
		t.window = o.DiffWindow
	}
	t.closing = make(chan struct{})
	for i := range t.shards {
		t.shards[i].topics = make(map[string]*topicState)
		sh := &t.shards[i]
		sh.diffs = workq.New(&t.group, func(batch []*diffItem) { t.dispatch(sh, batch) }, nil)
		t.owners[i].topics = make(map[ownerKey]map[string]struct{})
	}
	if err := t.startGossip(); err != nil {
		return nil, err
	}
	return t, nil
}

// Node is this tracker's node name (the PubSub's).
func (t *Tracker) Node() string { return t.self.Node }

// Shutdown stops the tracker: it tells the other nodes to drop this
// node's entries at once (rather than after DownPeriod), stops its timer,
// and waits for its goroutines or for ctx, returning ctx.Err() on timeout.
// Later calls to Track, Update and the socket helpers fail with
// [ErrClosed]; List and Get still answer. Shutdown is idempotent.
func (t *Tracker) Shutdown(ctx context.Context) error {
	first := false
	t.shutOnce.Do(func() {
		first = true
		t.isDown.Store(true)
		close(t.closing)
		t.group.Close() // No new goroutine: later diffs and gossip are dropped.
		t.stopGossip()
		t.sockMu.Lock()
		for k, stop := range t.sockets {
			stop()
			delete(t.sockets, k)
		}
		t.sockMu.Unlock()
	})
	err := t.group.Wait(ctx)
	if first {
		t.sayGoodbye(ctx)
		t.cancel()
	}
	return err
}

func (t *Tracker) shard(topic string) *shard {
	return &t.shards[maphash.String(t.seed, topic)%numShards]
}

func (t *Tracker) ownerShard(o ownerKey) *ownerShard {
	return &t.owners[maphash.Comparable(t.seed, o)%numShards]
}

// Track adds an entry for key on topic, owned by owner, with meta (which
// must encode to JSON; "phx_ref" and "phx_ref_prev" are the tracker's).
// It returns the entry's phx_ref. Every subscriber of the topic, on every
// node, gets a presence_diff with the join.
//
// owner is whatever tracks the key outside of a channel (a user id, a
// job): the pair (owner, topic, key) is tracked once, [ErrAlreadyTracked]
// otherwise, and [Tracker.UntrackAll] removes all of an owner's entries.
// A channel uses [Tracker.TrackSocket], which untracks by itself.
func (t *Tracker) Track(owner, topic, key string, meta map[string]any) (ref string, err error) {
	ref, _, err = t.track(ownerKey{name: owner}, topic, key, meta, false)
	return ref, err
}

func (t *Tracker) track(owner ownerKey, topic, key string, fields map[string]any, held bool) (string, *diffItem, error) {
	if t.isDown.Load() {
		return "", nil, ErrClosed
	}
	m, err := newMeta(fields, t.refs.next(), "")
	if err != nil {
		return "", nil, err
	}
	e := &entry{topic: topic, key: key, qkey: appendString(nil, key), owner: owner, meta: m}
	sh := t.shard(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ts := sh.topic(topic, true)
	if ts.lookup(owner, key) != nil {
		sh.dropIfEmpty(topic, ts)
		return "", nil, ErrAlreadyTracked
	}
	ts.add(e)
	t.ownerAdd(owner, topic)
	t.record(op{add: e})
	it := &diffItem{topic: topic, joins: []*entry{e}}
	if held {
		it.release = make(chan struct{})
	}
	t.enqueue(sh, it)
	return m.Ref, it, nil
}

// Untrack removes owner's entry for key on topic, if any; the subscribers
// get a presence_diff with the leave.
func (t *Tracker) Untrack(owner, topic, key string) {
	t.untrack(ownerKey{name: owner}, topic, &key)
}

// UntrackAll removes every entry of owner, on every topic.
func (t *Tracker) UntrackAll(owner string) {
	t.untrackOwner(ownerKey{name: owner})
}

func (t *Tracker) untrackOwner(owner ownerKey) {
	os := t.ownerShard(owner)
	os.mu.Lock()
	topics := make([]string, 0, len(os.topics[owner]))
	for topic := range os.topics[owner] {
		topics = append(topics, topic)
	}
	os.mu.Unlock()
	for _, topic := range topics {
		t.untrack(owner, topic, nil)
	}
}

// untrack removes owner's entry for *key on topic, or all its entries on
// topic when key is nil.
func (t *Tracker) untrack(owner ownerKey, topic string, key *string) {
	sh := t.shard(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ts := sh.topic(topic, false)
	if ts == nil {
		return
	}
	var gone []*entry
	if key != nil {
		if e := ts.lookup(owner, *key); e != nil {
			gone = append(gone, e)
		}
	} else {
		for _, e := range ts.local[owner] {
			gone = append(gone, e)
		}
	}
	if len(gone) == 0 {
		return
	}
	ops := make([]op, len(gone))
	for i, e := range gone {
		if ts.remove(e) {
			t.ownerRemove(owner, topic)
		}
		ops[i] = op{remove: e}
	}
	sh.dropIfEmpty(topic, ts)
	t.record(ops...)
	t.enqueue(sh, &diffItem{topic: topic, leaves: gone})
}

// Update replaces the meta of owner's entry for key on topic. The entry
// gets a new phx_ref, and "phx_ref_prev" is the old one; the subscribers
// get one presence_diff with the old meta as a leave and the new one as a
// join. It returns the new phx_ref, or [ErrNoPresence].
func (t *Tracker) Update(owner, topic, key string, meta map[string]any) (ref string, err error) {
	return t.update(ownerKey{name: owner}, topic, key, func(map[string]any) map[string]any { return meta })
}

// UpdateFunc is Update with the new meta computed from the current one
// (its Fields, which fn must not modify). fn is called without locks held,
// and again if the entry changed meanwhile.
func (t *Tracker) UpdateFunc(owner, topic, key string, fn func(old map[string]any) map[string]any) (ref string, err error) {
	return t.update(ownerKey{name: owner}, topic, key, fn)
}

func (t *Tracker) update(owner ownerKey, topic, key string, fn func(map[string]any) map[string]any) (string, error) {
	if t.isDown.Load() {
		return "", ErrClosed
	}
	sh := t.shard(topic)
	for {
		sh.mu.RLock()
		var old *entry
		if ts := sh.topic(topic, false); ts != nil {
			old = ts.lookup(owner, key)
		}
		sh.mu.RUnlock()
		if old == nil {
			return "", ErrNoPresence
		}
		m, err := newMeta(fn(old.meta.Fields), t.refs.next(), old.meta.Ref)
		if err != nil {
			return "", err
		}
		next := &entry{topic: topic, key: key, qkey: old.qkey, owner: owner, meta: m}
		sh.mu.Lock()
		ts := sh.topic(topic, false)
		if ts == nil || ts.lookup(owner, key) != old {
			sh.mu.Unlock()
			continue // Changed meanwhile: compute again from the new meta.
		}
		ts.replace(old, next)
		t.record(op{remove: old}, op{add: next})
		t.enqueue(sh, &diffItem{topic: topic, joins: []*entry{next}, leaves: []*entry{old}})
		sh.mu.Unlock()
		return m.Ref, nil
	}
}

// List returns who is on topic: each key with its metas, oldest first,
// passed through [Options.Fetch]. Entries of every node are included,
// except those of nodes considered down. The result is the caller's; the
// Metas' Fields are shared and must not be modified.
func (t *Tracker) List(ctx context.Context, topic string) map[string]*Presence {
	return t.list(ctx, topic, nil)
}

// Get returns the presence of key on topic, passed through Fetch, or nil.
func (t *Tracker) Get(ctx context.Context, topic, key string) *Presence {
	return t.list(ctx, topic, &key)[key]
}

func (t *Tracker) list(ctx context.Context, topic string, key *string) map[string]*Presence {
	sh := t.shard(topic)
	sh.mu.RLock()
	var out map[string]*Presence
	if ts := sh.topic(topic, false); ts != nil {
		out = ts.presences(key)
	} else {
		out = map[string]*Presence{}
	}
	sh.mu.RUnlock()
	_ = t.fetch(ctx, topic, out)
	return out
}

// State returns the presence_state payload of topic: List, encoded as
// phoenix.js expects it.
func (t *Tracker) State(ctx context.Context, topic string) (protocol.Payload, error) {
	b, err := appendPresences(nil, t.List(ctx, topic))
	if err != nil {
		return protocol.Payload{}, err
	}
	return protocol.JSON(b), nil
}

// ownerAdd notes that owner tracks on topic. The topic's shard mu is held.
func (t *Tracker) ownerAdd(owner ownerKey, topic string) {
	os := t.ownerShard(owner)
	os.mu.Lock()
	topics := os.topics[owner]
	if topics == nil {
		topics = make(map[string]struct{}, 1)
		os.topics[owner] = topics
	}
	topics[topic] = struct{}{}
	os.mu.Unlock()
}

// ownerRemove notes that owner no longer tracks on topic. The topic's
// shard mu is held.
func (t *Tracker) ownerRemove(owner ownerKey, topic string) {
	os := t.ownerShard(owner)
	os.mu.Lock()
	if topics := os.topics[owner]; topics != nil {
		delete(topics, topic)
		if len(topics) == 0 {
			delete(os.topics, owner)
		}
	}
	os.mu.Unlock()
}
