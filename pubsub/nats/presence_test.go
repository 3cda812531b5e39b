package nats_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pyrehq/pyre/presence"
)

// A node that dies without a word (its PubSub closes, its tracker never
// says goodbye) leaves the presence lists of the others within the
// tracker's DownPeriod (30 s by default); the others' entries stay.
func TestPresenceNodeDeath(t *testing.T) {
	t.Parallel()
	url, prefix := sharedURL(t), newPrefix()
	const topic = "room:lobby"
	names := []string{"a", "b", "c"}
	nodes := map[string]*node{}
	trackers := map[string]*presence.Tracker{}
	for _, name := range names {
		n := startNode(t, url, prefix, name, nil)
		tr, err := presence.New(n.PubSub, &presence.Options{Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown(context.Background()) }) // Before the PubSub closes.
		if _, err := tr.Track("owner-"+name, topic, "user-"+name, map[string]any{"node": name}); err != nil {
			t.Fatal(err)
		}
		nodes[name], trackers[name] = n, tr
	}
	keys := func(tr *presence.Tracker) []string {
		var ks []string
		for k := range tr.List(context.Background(), topic) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	all := []string{"user-a", "user-b", "user-c"}
	for _, name := range names {
		eventually(t, waitFor, name+" lists every node's entry", func() bool {
			return slices.Equal(keys(trackers[name]), all)
		})
	}

	// c dies: its PubSub closes (and its NATS connection with it), its
	// tracker is not shut down, so no goodbye is sent.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := nodes["c"].Close(ctx); err != nil {
		t.Fatal(err)
	}
	died := time.Now()
	const slack = 6 * time.Second
	for _, name := range []string{"a", "b"} {
		eventually(t, 30*time.Second+slack-time.Since(died), name+" drops the entry of the dead node", func() bool {
			return slices.Equal(keys(trackers[name]), []string{"user-a", "user-b"})
		})
	}
	t.Logf("the dead node's entry left after %v", time.Since(died).Round(100*time.Millisecond))
	for _, name := range []string{"a", "b"} {
		if got := keys(trackers[name]); !slices.Equal(got, []string{"user-a", "user-b"}) {
			t.Errorf("%s lists %v after the death of c, want the entries of a and b", name, got)
		}
	}
}
