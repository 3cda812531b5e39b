package presence_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/pubsub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var discard = slog.New(slog.DiscardHandler)

// newTracker returns a tracker on ps, shut down when the test ends.
func newTracker(t testing.TB, ps *pubsub.PubSub, opts *presence.Options) *presence.Tracker {
	t.Helper()
	var o presence.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = discard
	}
	tr, err := presence.New(ps, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

// newPubSub returns a single-node PubSub named node ("" for a random
// name), closed when the test ends.
func newPubSub(t testing.TB, node string) *pubsub.PubSub {
	t.Helper()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: node, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close(context.Background()) })
	return ps
}

// clusterNode returns a PubSub on a new node of c named name, closed when
// the test ends, and its adapter (to disconnect it).
func clusterNode(t testing.TB, c *pubsub.Cluster, name string) (*pubsub.PubSub, *pubsub.ClusterAdapter) {
	t.Helper()
	a := c.Adapter()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: name, Adapter: a, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close(context.Background()) })
	return ps, a
}

// wirePresence is a key's entry in presence_state and presence_diff.
type wirePresence struct {
	Metas []map[string]any `json:"metas"`
	User  any              `json:"user,omitempty"` // Added by the Fetch of some tests.
}

type wireDiff struct {
	Joins  map[string]wirePresence `json:"joins"`
	Leaves map[string]wirePresence `json:"leaves"`
}

// watcher subscribes to a topic and keeps what a phoenix.js Presence
// would: every presence_diff, applied to its view with syncDiff's rules.
type watcher struct {
	sub   *pubsub.Subscription
	mu    sync.Mutex
	raw   []string
	diffs []wireDiff
	state map[string][]map[string]any
}

func watch(ps *pubsub.PubSub, topic string) *watcher {
	w := &watcher{state: map[string][]map[string]any{}}
	sub, err := ps.Subscribe(topic, w)
	if err != nil {
		panic(err)
	}
	w.sub = sub
	return w
}

func (w *watcher) Deliver(m *pubsub.Message) {
	if m.Event != presence.EventDiff {
		return
	}
	var d wireDiff
	if err := json.Unmarshal(m.Payload.Bytes(), &d); err != nil {
		panic(fmt.Sprintf("presence_diff is not JSON: %v: %s", err, m.Payload.Bytes()))
	}
	if d.Joins == nil || d.Leaves == nil {
		panic(fmt.Sprintf("presence_diff without joins or leaves: %s", m.Payload.Bytes()))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.raw = append(w.raw, string(m.Payload.Bytes()))
	w.diffs = append(w.diffs, d)
	syncDiff(w.state, d)
}

// syncDiff is phoenix.js Presence.syncDiff: joins replace the key's entry,
// keeping the old metas not among the joined ones; leaves remove metas by
// phx_ref and a key without metas.
func syncDiff(state map[string][]map[string]any, d wireDiff) {
	for key, p := range d.Joins {
		joined := map[any]bool{}
		for _, m := range p.Metas {
			joined[m["phx_ref"]] = true
		}
		var metas []map[string]any
		for _, m := range state[key] {
			if !joined[m["phx_ref"]] {
				metas = append(metas, m)
			}
		}
		state[key] = append(metas, p.Metas...)
	}
	for key, p := range d.Leaves {
		cur, ok := state[key]
		if !ok {
			continue
		}
		left := map[any]bool{}
		for _, m := range p.Metas {
			left[m["phx_ref"]] = true
		}
		cur = slices.DeleteFunc(slices.Clone(cur), func(m map[string]any) bool { return left[m["phx_ref"]] })
		if len(cur) == 0 {
			delete(state, key)
		} else {
			state[key] = cur
		}
	}
}

// view is the watcher's state as key → sorted phx_refs.
func (w *watcher) view() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]string{}
	for k, metas := range w.state {
		for _, m := range metas {
			out[k] = append(out[k], m["phx_ref"].(string))
		}
		slices.Sort(out[k])
	}
	return out
}

func (w *watcher) diffList() []wireDiff {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.diffs)
}

func (w *watcher) rawList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.raw)
}

// refs is a List as key → sorted phx_refs, comparable with watcher.view.
func refs(list map[string]*presence.Presence) map[string][]string {
	out := map[string][]string{}
	for k, p := range list {
		for _, m := range p.Metas {
			out[k] = append(out[k], m.Ref)
		}
		slices.Sort(out[k])
	}
	return out
}

func showRefs(m map[string][]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s:%v ", k, m[k])
	}
	return b.String()
}

func equalRefs(a, b map[string][]string) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkFor polls cond for up to 10 s (nats-server's checkFor), for tests
// that run outside a synctest bubble.
func checkFor(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// settle, in a synctest bubble, lets the diffs queued so far go out: it
// sleeps past the default DiffWindow (virtual time), then waits for
// every goroutine of the bubble to block.
func settle() {
	time.Sleep(50 * time.Millisecond)
	synctest.Wait()
}

// orderedView is the watcher's state as key → phx_refs, in the order
// phoenix.js keeps them.
func (w *watcher) orderedView() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]string{}
	for k, metas := range w.state {
		for _, m := range metas {
			out[k] = append(out[k], m["phx_ref"].(string))
		}
	}
	return out
}
