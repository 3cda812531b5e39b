package presence

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// clientView is what a phoenix.js Presence holds: key → metas' phx_refs,
// in its order.
type clientView map[string][]string

// applyWire applies one presence_diff payload as phoenix.js
// Presence.syncDiff does: for each joined key, the joined metas replace
// the key's entry and the current metas whose phx_ref is not among them
// are put back in front; then, for each key that left, the metas whose
// phx_ref left are removed, and a key without metas is deleted (a leave
// of an unknown key does nothing).
func (v clientView) applyWire(t *testing.T, payload []byte) {
	t.Helper()
	var d struct {
		Joins  map[string]struct{ Metas []map[string]any }
		Leaves map[string]struct{ Metas []map[string]any }
	}
	if err := json.Unmarshal(payload, &d); err != nil || d.Joins == nil || d.Leaves == nil {
		t.Fatalf("presence_diff %s: %v", payload, err)
	}
	for key, p := range d.Joins {
		var joined []string
		for _, m := range p.Metas {
			joined = append(joined, m["phx_ref"].(string))
		}
		var kept []string
		for _, ref := range v[key] {
			if !slices.Contains(joined, ref) {
				kept = append(kept, ref)
			}
		}
		v[key] = append(kept, joined...)
	}
	for key, p := range d.Leaves {
		cur, ok := v[key]
		if !ok {
			continue
		}
		var left []string
		for _, m := range p.Metas {
			left = append(left, m["phx_ref"].(string))
		}
		cur = slices.DeleteFunc(slices.Clone(cur), func(ref string) bool { return slices.Contains(left, ref) })
		if len(cur) == 0 {
			delete(v, key)
		} else {
			v[key] = cur
		}
	}
}

// apply encodes d as the tracker does and applies it.
func (v clientView) apply(t *testing.T, d *diffItem) {
	t.Helper()
	b, err := appendDiff(nil, group(d.joins), group(d.leaves))
	if err != nil {
		t.Fatal(err)
	}
	v.applyWire(t, b)
}

func (v clientView) clone() clientView {
	out := clientView{}
	for k, refs := range v {
		out[k] = slices.Clone(refs)
	}
	return out
}

func (v clientView) String() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(v)) {
		fmt.Fprintf(&b, "%s:%v ", k, v[k])
	}
	return b.String()
}

// listModel is the tracker's List of one topic, by the rules of
// topicState: a tracked or re-added entry goes last in its key, an update
// keeps its place.
type listModel struct {
	keys map[string][]*entry
}

func (l *listModel) view() clientView {
	v := clientView{}
	for k, es := range l.keys {
		for _, e := range es {
			v[k] = append(v[k], e.meta.Ref)
		}
	}
	return v
}

// scenario makes a random history of one topic as diffItems, one per
// change as the tracker queues them, and the List after each of them.
// Changes: a join under a new phx_ref, a leave, an update (when updates
// is set), a node going down (its entries leave, in one diff) and coming
// back (the same entries join again, same phx_refs).
type scenario struct {
	items []*diffItem
	lists []clientView // lists[i]: List after items[i].
}

func makeScenario(rng *rand.Rand, steps int, updates bool) scenario {
	var (
		sc   scenario
		l    = listModel{keys: map[string][]*entry{}}
		n    int
		down []*entry // Entries of the node that is down.
	)
	keys := []string{"a", "b", "c"}
	newEntry := func(key, node, prev string) *entry {
		n++
		m, err := newMeta(map[string]any{"n": n}, fmt.Sprintf("r%d", n), prev)
		if err != nil {
			panic(err)
		}
		return &entry{topic: "t", key: key, qkey: appendString(nil, key), owner: ownerKey{node: node}, meta: m}
	}
	all := func() []*entry {
		var es []*entry
		for _, k := range slices.Sorted(maps.Keys(l.keys)) {
			es = append(es, l.keys[k]...)
		}
		return es
	}
	remove := func(e *entry) {
		es := slices.DeleteFunc(l.keys[e.key], func(x *entry) bool { return x == e })
		if len(es) == 0 {
			delete(l.keys, e.key)
		} else {
			l.keys[e.key] = es
		}
	}
	for range steps {
		it := &diffItem{topic: "t"}
		es := all()
		switch op := rng.IntN(10); {
		case op < 4 || len(es) == 0: // Join.
			node := ""
			if rng.IntN(2) == 0 {
				node = "b"
			}
			if node == "b" && down != nil {
				node = ""
			}
			e := newEntry(keys[rng.IntN(len(keys))], node, "")
			l.keys[e.key] = append(l.keys[e.key], e)
			it.joins = []*entry{e}
		case op < 7: // Leave.
			e := es[rng.IntN(len(es))]
			remove(e)
			it.leaves = []*entry{e}
		case op < 8 && updates: // Update: same place in the List.
			old := es[rng.IntN(len(es))]
			next := newEntry(old.key, old.owner.node, old.meta.Ref)
			i := slices.Index(l.keys[old.key], old)
			l.keys[old.key][i] = next
			it.leaves, it.joins = []*entry{old}, []*entry{next}
		default: // Node b goes down, or comes back with the same entries.
			if down == nil {
				down = []*entry{}
				for _, e := range es {
					if e.owner.node == "b" {
						remove(e)
						down = append(down, e)
					}
				}
				it.leaves = down
			} else {
				for _, e := range down {
					l.keys[e.key] = append(l.keys[e.key], e)
				}
				it.joins = down
				down = nil
			}
		}
		if len(it.joins)+len(it.leaves) == 0 {
			continue
		}
		sc.items = append(sc.items, it)
		sc.lists = append(sc.lists, l.view())
	}
	return sc
}

// TestMergeDiffsModel replays random histories through phoenix.js's
// syncDiff rules, once one diff per change and once merged in random
// windows with a random bound on the metas per diff: the merged view must
// equal the List after each window (metas in the List's order, so never
// reordered), and the view of the diffs one by one. Updates keep their
// place in the List and go last on the client, diff by diff as merged, so
// with updates the order is checked against the diffs one by one and the
// List is compared as sets.
func TestMergeDiffsModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		updates := seed%2 == 1
		rng := rand.New(rand.NewPCG(seed, 7))
		sc := makeScenario(rng, 60, updates)
		one, merged := clientView{}, clientView{}
		for i := 0; i < len(sc.items); {
			n := 1 + rng.IntN(12)
			if i+n > len(sc.items) {
				n = len(sc.items) - i
			}
			window := sc.items[i : i+n]
			limit := 1 + rng.IntN(4)
			if rng.IntN(3) == 0 {
				limit = maxDiffEntries
			}
			for _, it := range window {
				one.apply(t, it)
			}
			diffs := mergeDiffs("t", window, limit)
			for _, d := range diffs {
				if len(d.joins)+len(d.leaves) > limit || len(d.joins)+len(d.leaves) == 0 {
					t.Fatalf("seed %d: a merged diff holds %d metas, limit %d", seed, len(d.joins)+len(d.leaves), limit)
				}
				merged.apply(t, d)
			}
			i += n
			list := sc.lists[i-1]
			if merged.String() != one.String() {
				t.Fatalf("seed %d, after change %d: merged view %v\none diff per change %v", seed, i, merged, one)
			}
			if !updates && merged.String() != list.String() {
				t.Fatalf("seed %d, after change %d: view %v\nList %v", seed, i, merged, list)
			}
			if !sameSets(merged, list) {
				t.Fatalf("seed %d, after change %d: view %v\nList %v (as sets)", seed, i, merged, list)
			}
		}
	}
}

func sameSets(a, b clientView) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool {
		return slices.Equal(slices.Sorted(slices.Values(x)), slices.Sorted(slices.Values(y)))
	})
}

// TestMergeDiffsEdges checks the cases the merge exists for, one by one,
// against the client state before and the List after.
func TestMergeDiffsEdges(t *testing.T) {
	t.Parallel()
	var n int
	mk := func(key string) *entry {
		n++
		m, err := newMeta(nil, fmt.Sprintf("r%d", n), "")
		if err != nil {
			t.Fatal(err)
		}
		return &entry{topic: "t", key: key, qkey: appendString(nil, key), meta: m}
	}
	j := func(es ...*entry) *diffItem { return &diffItem{topic: "t", joins: es} }
	l := func(es ...*entry) *diffItem { return &diffItem{topic: "t", leaves: es} }
	a1, a2, a3, b1 := mk("a"), mk("a"), mk("a"), mk("b")
	tests := []struct {
		name   string
		before clientView
		items  []*diffItem
		want   clientView
		diffs  int // Diffs with no limit.
	}{
		{"join then leave of a key", clientView{}, []*diffItem{j(b1), l(b1)}, clientView{}, 1},
		{"join then leave, the client already had it", clientView{"b": {b1.meta.Ref}}, []*diffItem{j(b1), l(b1)}, clientView{}, 1},
		{"leave and rejoin with a new phx_ref", clientView{"a": {a1.meta.Ref}}, []*diffItem{l(a1), j(a2)}, clientView{"a": {a2.meta.Ref}}, 1},
		{"node down and back: same phx_ref", clientView{"a": {a1.meta.Ref, a2.meta.Ref}}, []*diffItem{l(a1), j(a1)}, clientView{"a": {a2.meta.Ref, a1.meta.Ref}}, 1},
		{"down, back, down", clientView{"a": {a1.meta.Ref}}, []*diffItem{l(a1), j(a1), l(a1)}, clientView{}, 1},
		{"join, leave, join of one phx_ref", clientView{"a": {a2.meta.Ref}}, []*diffItem{j(a1), l(a1), j(a3), j(a1)}, clientView{"a": {a2.meta.Ref, a3.meta.Ref, a1.meta.Ref}}, 1},
		{"metas of a key keep their order", clientView{}, []*diffItem{j(a1), j(b1), j(a2), j(a3)}, clientView{"a": {a1.meta.Ref, a2.meta.Ref, a3.meta.Ref}, "b": {b1.meta.Ref}}, 1},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, maxDiffEntries} {
			v := tt.before.clone()
			diffs := mergeDiffs("t", tt.items, limit)
			for _, d := range diffs {
				v.apply(t, d)
			}
			if v.String() != tt.want.String() {
				t.Errorf("%s, limit %d: view %v, want %v", tt.name, limit, v, tt.want)
			}
			if limit == maxDiffEntries && len(diffs) != tt.diffs {
				t.Errorf("%s: %d diffs, want %d", tt.name, len(diffs), tt.diffs)
			}
		}
		// The naive merge (every join, then every leave) is wrong for a
		// node that came back: this is what mergeDiffs guards against.
		if tt.name == "node down and back: same phx_ref" {
			v := tt.before.clone()
			naive := &diffItem{topic: "t"}
			for _, it := range tt.items {
				naive.joins = append(naive.joins, it.joins...)
				naive.leaves = append(naive.leaves, it.leaves...)
			}
			v.apply(t, naive)
			if v.String() == tt.want.String() {
				t.Errorf("%s: the naive merge gives the right view %v; the case tests nothing", tt.name, v)
			}
		}
	}
}
