package presence

import (
	"slices"
	"sync"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/workq"
)

// numShards spreads topics over independent locks, so that tracking and
// listing on different topics never wait for each other (Phoenix's
// tracker serialises every call through one process: phoenix#2238).
const numShards = 64

// ownerKey names who tracks an entry. Local entries belong to a channel
// (sock) or to a name given to Track; entries replicated from another
// node belong to that node.
type ownerKey struct {
	sock *channel.Socket
	name string
	node string // The replica's node name; "" for a local owner.
}

func (o ownerKey) remote() bool { return o.node != "" }

// entry is one tracked (owner, topic, key) with its meta. Entries are
// immutable: an update replaces the entry, so diffs and lists can share
// them without copying.
type entry struct {
	topic string
	key   string
	qkey  []byte // key as a JSON string
	owner ownerKey
	meta  Meta
}

// keyState is a key's entries in tracking order.
type keyState struct {
	entries []*entry
}

// topicState is everything tracked on one topic, local and replicated.
type topicState struct {
	keys  map[string]*keyState
	byRef map[string]*entry
	local map[ownerKey]map[string]*entry // local owner → key → entry
}

func newTopicState() *topicState {
	return &topicState{
		keys:  make(map[string]*keyState),
		byRef: make(map[string]*entry),
		local: make(map[ownerKey]map[string]*entry),
	}
}

func (ts *topicState) empty() bool { return len(ts.byRef) == 0 }

func (ts *topicState) lookup(owner ownerKey, key string) *entry {
	return ts.local[owner][key]
}

func (ts *topicState) add(e *entry) {
	ks := ts.keys[e.key]
	if ks == nil {
		ks = &keyState{}
		ts.keys[e.key] = ks
	}
	ks.entries = append(ks.entries, e)
	ts.byRef[e.meta.Ref] = e
	if !e.owner.remote() {
		keys := ts.local[e.owner]
		if keys == nil {
			keys = make(map[string]*entry, 1)
			ts.local[e.owner] = keys
		}
		keys[e.key] = e
	}
}

// remove deletes e; it reports whether the owner has no entry left on
// the topic.
func (ts *topicState) remove(e *entry) (ownerGone bool) {
	ks := ts.keys[e.key]
	if ks != nil {
		if i := slices.Index(ks.entries, e); i >= 0 {
			ks.entries = slices.Delete(ks.entries, i, i+1)
		}
		if len(ks.entries) == 0 {
			delete(ts.keys, e.key)
		}
	}
	delete(ts.byRef, e.meta.Ref)
	if e.owner.remote() {
		return false
	}
	keys := ts.local[e.owner]
	delete(keys, e.key)
	if len(keys) == 0 {
		delete(ts.local, e.owner)
		return true
	}
	return false
}

// replace puts next where old was: an update keeps the entry's place.
func (ts *topicState) replace(old, next *entry) {
	if ks := ts.keys[old.key]; ks != nil {
		if i := slices.Index(ks.entries, old); i >= 0 {
			ks.entries[i] = next
		}
	}
	delete(ts.byRef, old.meta.Ref)
	ts.byRef[next.meta.Ref] = next
	ts.local[next.owner][next.key] = next
}

// presences builds the list of the topic, or of one key when key is not nil.
func (ts *topicState) presences(key *string) map[string]*Presence {
	if key != nil {
		ks := ts.keys[*key]
		if ks == nil {
			return map[string]*Presence{}
		}
		return map[string]*Presence{*key: ks.presence()}
	}
	out := make(map[string]*Presence, len(ts.keys))
	for k, ks := range ts.keys {
		out[k] = ks.presence()
	}
	return out
}

func (ks *keyState) presence() *Presence {
	p := &Presence{Metas: make([]Meta, len(ks.entries))}
	for i, e := range ks.entries {
		p.Metas[i] = e.meta
	}
	return p
}

// shard holds the topics that hash to it, and the queue of their diffs.
type shard struct {
	mu     sync.RWMutex // Protects topics.
	topics map[string]*topicState

	// diffs are broadcast by the queue's goroutine, in the order they
	// were queued (under mu, so in the order of the changes).
	diffs *workq.Queue[*diffItem]
}

// topic returns the topic's state, creating it when create is set.
// mu must be held (for writing when create is set).
func (sh *shard) topic(name string, create bool) *topicState {
	ts := sh.topics[name]
	if ts == nil && create {
		ts = newTopicState()
		sh.topics[name] = ts
	}
	return ts
}

// dropIfEmpty forgets a topic with no entries. mu must be held for writing.
func (sh *shard) dropIfEmpty(name string, ts *topicState) {
	if ts.empty() {
		delete(sh.topics, name)
	}
}

// ownerShard indexes the topics each local owner tracks on, for
// UntrackAll.
type ownerShard struct {
	mu     sync.Mutex // Protects topics. Taken after shard.mu.
	topics map[ownerKey]map[string]struct{}
}
