package presence_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/pubsub"
)

// These tests run several nodes in one process over pubsub.Cluster, with
// the default periods (1.5 s heartbeats, 30 s down period) on synctest's
// fake clock.

type node struct {
	ps *pubsub.PubSub
	ad *pubsub.ClusterAdapter
	tr *presence.Tracker
	w  *watcher // Watches "room:1" on this node.
}

func startNodes(t *testing.T, c *pubsub.Cluster, names ...string) map[string]*node {
	t.Helper()
	nodes := map[string]*node{}
	for _, name := range names {
		ps, ad := clusterNode(t, c, name)
		nodes[name] = &node{ps: ps, ad: ad, w: watch(ps, "room:1"), tr: newTracker(t, ps, nil)}
	}
	settle()
	return nodes
}

// converged checks that every node lists want (key → sorted refs) on
// room:1 and that every watcher's phoenix.js view matches it.
func converged(t *testing.T, nodes map[string]*node, want map[string][]string) {
	t.Helper()
	for name, n := range nodes {
		got := refs(n.tr.List(context.Background(), "room:1"))
		if !equalRefs(got, want) {
			t.Fatalf("node %s lists %s\nwant %s", name, showRefs(got), showRefs(want))
		}
		if v := n.w.view(); !equalRefs(v, want) {
			t.Fatalf("node %s: a subscriber's view is %s\nwant %s", name, showRefs(v), showRefs(want))
		}
	}
}

// joinsOnce checks that no subscriber got the same join twice.
func joinsOnce(t *testing.T, nodes map[string]*node) {
	t.Helper()
	for name, n := range nodes {
		seen := map[any]int{}
		for _, d := range n.w.diffList() {
			for _, p := range d.Joins {
				for _, m := range p.Metas {
					seen[m["phx_ref"]]++
				}
			}
		}
		for ref, count := range seen {
			if count != 1 {
				t.Fatalf("node %s: the join of %v reached a subscriber %d times", name, ref, count)
			}
		}
	}
}

func track(t *testing.T, tr *presence.Tracker, owner, key string) string {
	t.Helper()
	ref, err := tr.Track(owner, "room:1", key, map[string]any{"node": tr.Node()})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestClusterReplicates(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		nodes := startNodes(t, pubsub.NewCluster(), "a", "b", "c")
		ann := track(t, nodes["a"].tr, "conn-1", "ann")
		bob := track(t, nodes["b"].tr, "conn-2", "bob")
		ann2 := track(t, nodes["c"].tr, "conn-3", "ann") // ann on a second device
		settle()
		converged(t, nodes, map[string][]string{"ann": sorted(ann, ann2), "bob": {bob}})

		// An update on b reaches the others as one diff: leave + join.
		bob2, err := nodes["b"].tr.Update("conn-2", "room:1", "bob", map[string]any{"status": "away"})
		if err != nil {
			t.Fatal(err)
		}
		settle()
		for _, name := range []string{"a", "c"} {
			diffs := nodes[name].w.diffList()
			last := diffs[len(diffs)-1]
			if len(last.Joins["bob"].Metas) != 1 || last.Joins["bob"].Metas[0]["phx_ref_prev"] != bob ||
				len(last.Leaves["bob"].Metas) != 1 || last.Leaves["bob"].Metas[0]["phx_ref"] != bob {
				t.Fatalf("node %s: last diff %+v, want bob's update as one diff", name, last)
			}
		}
		m := nodes["c"].tr.Get(context.Background(), "room:1", "bob").Metas[0]
		if m.Ref != bob2 || m.PrevRef != bob || m.Fields["status"] != "away" {
			t.Fatalf("node c has bob as %+v", m)
		}

		nodes["c"].tr.Untrack("conn-3", "room:1", "ann")
		settle()
		converged(t, nodes, map[string][]string{"ann": {ann}, "bob": {bob2}})
		joinsOnce(t, nodes)

		// Heartbeats alone change nothing.
		time.Sleep(10 * time.Second)
		settle()
		converged(t, nodes, map[string][]string{"ann": {ann}, "bob": {bob2}})
	})
}

func TestClusterLateNodeGetsState(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := pubsub.NewCluster()
		nodes := startNodes(t, c, "a", "b")
		ann := track(t, nodes["a"].tr, "conn-1", "ann")
		bob := track(t, nodes["b"].tr, "conn-2", "bob")
		settle()

		late := startNodes(t, c, "d")
		nodes["d"] = late["d"]
		converged(t, nodes, map[string][]string{"ann": {ann}, "bob": {bob}})
		joinsOnce(t, nodes)
	})
}

func TestClusterNodeDownAndBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		nodes := startNodes(t, pubsub.NewCluster(), "a", "b", "c")
		ann := track(t, nodes["a"].tr, "conn-1", "ann")
		bob := track(t, nodes["b"].tr, "conn-2", "bob")
		cid := track(t, nodes["c"].tr, "conn-3", "cid")
		settle()
		all := map[string][]string{"ann": {ann}, "bob": {bob}, "cid": {cid}}
		converged(t, nodes, all)

		nodes["c"].ad.Disconnect() // c crashes, or is cut off.
		time.Sleep(29 * time.Second)
		settle()
		converged(t, nodes, all) // Not yet down.

		time.Sleep(3 * time.Second) // Past the 30 s down period.
		settle()
		ab := map[string]*node{"a": nodes["a"], "b": nodes["b"]}
		converged(t, ab, map[string][]string{"ann": {ann}, "bob": {bob}})
		// c, alone, dropped the others.
		converged(t, map[string]*node{"c": nodes["c"]}, map[string][]string{"cid": {cid}})
		for _, name := range []string{"a", "b"} {
			diffs := nodes[name].w.diffList()
			last := diffs[len(diffs)-1]
			if len(last.Joins) != 0 || len(last.Leaves["cid"].Metas) != 1 {
				t.Fatalf("node %s: last diff %+v, want cid's leave", name, last)
			}
		}

		// c comes back: its entries are joins again, everywhere.
		nodes["c"].ad.Connect()
		time.Sleep(2 * time.Second) // A heartbeat period.
		settle()
		converged(t, nodes, all)
	})
}

func TestClusterShutdownLeavesAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		nodes := startNodes(t, pubsub.NewCluster(), "a", "b")
		ann := track(t, nodes["a"].tr, "conn-1", "ann")
		track(t, nodes["b"].tr, "conn-2", "bob")
		settle()
		if err := nodes["b"].tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		settle() // No waiting for the down period.
		converged(t, map[string]*node{"a": nodes["a"]}, map[string][]string{"ann": {ann}})
	})
}

// A node that restarts under the same name replaces its old self at once.
func TestClusterRestartedNode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := pubsub.NewCluster()
		nodes := startNodes(t, c, "a", "b")
		ann := track(t, nodes["a"].tr, "conn-1", "ann")
		track(t, nodes["b"].tr, "conn-2", "bob")
		settle()

		// b dies without a word, and starts again.
		nodes["b"].ad.Disconnect()
		_ = nodes["b"].tr.Shutdown(context.Background())
		nodes["b"].w.sub.Unsubscribe() // Its clients are gone too.
		nodes["b"].ad.Connect()
		nodes["b"].w = watch(nodes["b"].ps, "room:1")
		nodes["b"].tr = newTracker(t, nodes["b"].ps, nil)
		bob := track(t, nodes["b"].tr, "conn-9", "bob")
		settle()
		converged(t, nodes, map[string][]string{"ann": {ann}, "bob": {bob}})
	})
}

// Every node changes its entries at once, from many goroutines; all nodes
// end with the same list and every subscriber's view matches it.
func TestClusterConcurrentChanges(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		names := []string{"a", "b", "c"}
		nodes := startNodes(t, pubsub.NewCluster(), names...)
		var wg sync.WaitGroup
		for ni, name := range names {
			tr := nodes[name].tr
			for g := range 8 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(ni), uint64(g)))
					owner := fmt.Sprint(name, "-", g)
					for range 100 {
						key := fmt.Sprint("k", r.IntN(5))
						switch r.IntN(3) {
						case 0:
							_, _ = tr.Track(owner, "room:1", key, map[string]any{"g": g})
						case 1:
							_, _ = tr.Update(owner, "room:1", key, map[string]any{"g": g, "u": 1})
						case 2:
							tr.Untrack(owner, "room:1", key)
						}
					}
				})
			}
		}
		wg.Wait()
		settle()
		converged(t, nodes, refs(nodes["a"].tr.List(context.Background(), "room:1")))
		joinsOnce(t, nodes)
	})
}

func sorted(refs ...string) []string {
	out := append([]string(nil), refs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
