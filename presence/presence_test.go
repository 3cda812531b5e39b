package presence_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/pubsub"
)

func TestListAndGet(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker(t, newPubSub(t, "n1"), nil)
		ctx := context.Background()

		if got := tr.List(ctx, "room:none"); got == nil || len(got) != 0 {
			t.Fatalf("List of an unknown topic = %v, want an empty map", got)
		}
		if got := tr.Get(ctx, "room:none", "u1"); got != nil {
			t.Fatalf("Get of an unknown topic = %v, want nil", got)
		}

		ref1, err := tr.Track("owner-1", "room:1", "u1", map[string]any{"name": "ann"})
		if err != nil {
			t.Fatal(err)
		}
		ref2, err := tr.Track("owner-2", "room:1", "u1", map[string]any{"name": "ann", "tab": 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Track("owner-1", "room:1", "1", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		if len(ref1) != 16 || ref1 == ref2 {
			t.Fatalf("refs %q and %q: want two distinct 16-character refs", ref1, ref2)
		}

		list := tr.List(ctx, "room:1")
		if len(list) != 2 || list["1"] == nil {
			t.Fatalf("List = %v, want keys u1 and \"1\"", list)
		}
		want := fmt.Sprintf(`{"metas":[{"name":"ann","phx_ref":%q},{"name":"ann","phx_ref":%q,"tab":2}]}`, ref1, ref2)
		if got := mustJSON(t, list["u1"]); got != want {
			t.Fatalf("u1 = %s\nwant %s", got, want)
		}
		// Fields went through JSON, as on every other node.
		if m := list["u1"].Metas[1]; m.Ref != ref2 || m.PrevRef != "" || m.Fields["tab"] != float64(2) {
			t.Fatalf("meta = %+v", m)
		}
		if _, ok := list["u1"].Metas[0].Fields["phx_ref"]; ok {
			t.Fatal("Fields holds phx_ref")
		}
		if got := mustJSON(t, tr.Get(ctx, "room:1", "u1")); got != want {
			t.Fatalf("Get(u1) = %s\nwant %s", got, want)
		}
		if got := tr.Get(ctx, "room:1", "nobody"); got != nil {
			t.Fatalf("Get(nobody) = %v, want nil", got)
		}
		if got := tr.List(ctx, "room:2"); len(got) != 0 {
			t.Fatalf("another topic lists %v", got)
		}

		state, err := tr.State(ctx, "room:1")
		if err != nil {
			t.Fatal(err)
		}
		wantState := fmt.Sprintf(`{"1":%s,"u1":%s}`, mustJSON(t, list["1"]), want)
		if got := string(state.Bytes()); got != wantState {
			t.Fatalf("State = %s\nwant %s", got, wantState)
		}
	})
}

func TestTrackErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker(t, newPubSub(t, "n1"), nil)
		if _, err := tr.Track("o", "room:1", "k", map[string]any{"a": 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Track("o", "room:1", "k", nil); !errors.Is(err, presence.ErrAlreadyTracked) {
			t.Fatalf("second Track: %v, want ErrAlreadyTracked", err)
		}
		if _, err := tr.Update("o", "room:1", "nobody", nil); !errors.Is(err, presence.ErrNoPresence) {
			t.Fatalf("Update of nothing: %v, want ErrNoPresence", err)
		}
		if _, err := tr.Update("other", "room:1", "k", nil); !errors.Is(err, presence.ErrNoPresence) {
			t.Fatalf("Update by another owner: %v, want ErrNoPresence", err)
		}
		if _, err := tr.Track("o", "room:1", "bad", map[string]any{"f": func() {}}); err == nil {
			t.Fatal("a meta that cannot be encoded was tracked")
		}
		tr.Untrack("o", "room:1", "nobody") // Nothing tracked: no-op.
		tr.Untrack("o", "room:9", "k")
		if got := len(tr.List(context.Background(), "room:1")["k"].Metas); got != 1 {
			t.Fatalf("k has %d metas after no-op untracks, want 1", got)
		}
		// The tracker's own fields win over the caller's.
		ref, err := tr.Track("o2", "room:1", "k", map[string]any{"phx_ref": "mine", "phx_ref_prev": "x"})
		if err != nil {
			t.Fatal(err)
		}
		p := tr.Get(context.Background(), "room:1", "k")
		if m := p.Metas[1]; m.Ref != ref || m.PrevRef != "" || len(m.Fields) != 0 {
			t.Fatalf("meta = %+v, want ref %q and no fields", m, ref)
		}

		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal("second Shutdown:", err)
		}
		if _, err := tr.Track("o", "room:1", "k2", nil); !errors.Is(err, presence.ErrClosed) {
			t.Fatalf("Track after Shutdown: %v, want ErrClosed", err)
		}
		if _, err := tr.Update("o", "room:1", "k", nil); !errors.Is(err, presence.ErrClosed) {
			t.Fatalf("Update after Shutdown: %v, want ErrClosed", err)
		}
		if got := len(tr.List(context.Background(), "room:1")); got != 1 {
			t.Fatalf("List after Shutdown has %d keys, want 1", got)
		}
	})
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	_, err := presence.New(newPubSub(t, ""), &presence.Options{BroadcastPeriod: 1e9, DownPeriod: 1e9})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("DownPeriod < 2 x BroadcastPeriod: err %v", err)
	}
}

// The diffs of Phoenix's presence_test.exs: track, update, untrack.
func TestDiffs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		w := watch(ps, "room:1")

		ref, err := tr.Track("pid", "room:1", "u1", map[string]any{"name": "u1"})
		if err != nil {
			t.Fatal(err)
		}
		settle()
		ref2, err := tr.Update("pid", "room:1", "u1", map[string]any{"name": "u1.2"})
		if err != nil {
			t.Fatal(err)
		}
		settle()
		tr.Untrack("pid", "room:1", "u1")
		settle()

		want := []string{
			fmt.Sprintf(`{"joins":{"u1":{"metas":[{"name":"u1","phx_ref":%q}]}},"leaves":{}}`, ref),
			fmt.Sprintf(`{"joins":{"u1":{"metas":[{"name":"u1.2","phx_ref":%q,"phx_ref_prev":%q}]}},"leaves":{"u1":{"metas":[{"name":"u1","phx_ref":%q}]}}}`, ref2, ref, ref),
			fmt.Sprintf(`{"joins":{},"leaves":{"u1":{"metas":[{"name":"u1.2","phx_ref":%q,"phx_ref_prev":%q}]}}}`, ref2, ref),
		}
		got := w.rawList()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("diffs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if len(tr.List(context.Background(), "room:1")) != 0 || len(w.view()) != 0 {
			t.Fatal("something is left after the untrack")
		}
	})
}

func TestUpdateFunc(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		old, _ := tr.Track("o", "room:1", "k", map[string]any{"online_at": 1, "status": "here"})
		ref, err := tr.UpdateFunc("o", "room:1", "k", func(m map[string]any) map[string]any {
			next := map[string]any{"status": "away"}
			next["online_at"] = m["online_at"]
			return next
		})
		if err != nil {
			t.Fatal(err)
		}
		m := tr.Get(context.Background(), "room:1", "k").Metas[0]
		if m.Ref != ref || m.PrevRef != old || m.Fields["status"] != "away" || m.Fields["online_at"] != float64(1) {
			t.Fatalf("after UpdateFunc: %+v", m)
		}
	})
}

func TestUntrackAll(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		w1, w2 := watch(ps, "room:1"), watch(ps, "room:2")
		for _, topic := range []string{"room:1", "room:2"} {
			for _, key := range []string{"a", "b"} {
				if _, err := tr.Track("u1", topic, key, nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tr.Track("u2", topic, "a", nil); err != nil {
				t.Fatal(err)
			}
		}
		settle()
		tr.UntrackAll("u1")
		settle()
		for _, topic := range []string{"room:1", "room:2"} {
			list := tr.List(context.Background(), topic)
			if len(list) != 1 || len(list["a"].Metas) != 1 {
				t.Fatalf("%s after UntrackAll(u1): %s", topic, mustJSON(t, list))
			}
		}
		for i, w := range []*watcher{w1, w2} {
			diffs := w.diffList()
			last := diffs[len(diffs)-1]
			if len(last.Joins) != 0 || len(last.Leaves) != 2 {
				t.Fatalf("room:%d: last diff %+v, want the two leaves of u1 in one diff", i+1, last)
			}
		}
		tr.UntrackAll("nobody")
	})
}

func TestFetch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		var calls sync.Map
		tr := newTracker(t, ps, &presence.Options{
			Fetch: func(_ context.Context, topic string, ps map[string]*presence.Presence) {
				calls.Store(topic, true)
				for k, p := range ps {
					if k == "boom" {
						panic("fetch failed")
					}
					p.Extra = map[string]any{"user": "user " + k, "metas": "ignored"}
				}
			},
		})
		w := watch(ps, "room:1")
		ref, _ := tr.Track("o", "room:1", "u1", map[string]any{"n": 1})
		settle()
		tr.Untrack("o", "room:1", "u1")
		settle()

		want := fmt.Sprintf(`{"metas":[{"n":1,"phx_ref":%q}],"user":"user u1"}`, ref)
		diffs := w.rawList()
		if len(diffs) != 2 ||
			diffs[0] != `{"joins":{"u1":`+want+`},"leaves":{}}` ||
			diffs[1] != `{"joins":{},"leaves":{"u1":`+want+`}}` {
			t.Fatalf("diffs with fetched data:\n%s", strings.Join(diffs, "\n"))
		}

		ref, _ = tr.Track("o", "room:1", "u1", map[string]any{"n": 1})
		settle()
		want = fmt.Sprintf(`{"metas":[{"n":1,"phx_ref":%q}],"user":"user u1"}`, ref)
		if got := mustJSON(t, tr.Get(context.Background(), "room:1", "u1")); got != want {
			t.Fatalf("Get = %s, want %s", got, want)
		}
		if got := mustJSON(t, tr.List(context.Background(), "room:1")); got != `{"u1":`+want+`}` {
			t.Fatalf("List = %s", got)
		}

		// A panicking Fetch is logged; the presences go out as it left them.
		bref, _ := tr.Track("o", "room:1", "boom", map[string]any{})
		settle()
		diffs = w.rawList()
		if got, want := diffs[len(diffs)-1], fmt.Sprintf(`{"joins":{"boom":{"metas":[{"phx_ref":%q}]}},"leaves":{}}`, bref); got != want {
			t.Fatalf("diff after a Fetch panic: %s, want %s", got, want)
		}
		if p := tr.Get(context.Background(), "room:1", "boom"); p == nil || len(p.Metas) != 1 {
			t.Fatalf("Get after a Fetch panic: %v", p)
		}
	})
}

// Many goroutines track, update and untrack on a few topics at once; every
// watcher ends with the tracker's list, and then with nothing.
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, "n1")
	tr := newTracker(t, ps, nil)
	topics := []string{"room:a", "room:b", "room:c"}
	watchers := map[string]*watcher{}
	for _, topic := range topics {
		watchers[topic] = watch(ps, topic)
	}
	ctx := context.Background()
	const workers, rounds = 16, 200
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			owner := fmt.Sprint("owner-", i)
			for range rounds {
				topic := topics[r.IntN(len(topics))]
				key := fmt.Sprint("k", r.IntN(4))
				switch r.IntN(4) {
				case 0, 1:
					_, err := tr.Track(owner, topic, key, map[string]any{"i": i})
					if err != nil && !errors.Is(err, presence.ErrAlreadyTracked) {
						t.Error(err)
					}
				case 2:
					_, err := tr.Update(owner, topic, key, map[string]any{"i": i, "updated": true})
					if err != nil && !errors.Is(err, presence.ErrNoPresence) {
						t.Error(err)
					}
				case 3:
					tr.Untrack(owner, topic, key)
				}
				_ = tr.List(ctx, topic)
			}
		})
	}
	wg.Wait()
	check := func(phase string) {
		t.Helper()
		for _, topic := range topics {
			want := refs(tr.List(ctx, topic))
			w := watchers[topic]
			if !checkFor(func() bool { return equalRefs(w.view(), want) }) {
				t.Fatalf("%s, %s: watcher sees %s\nlist is %s", phase, topic, showRefs(w.view()), showRefs(want))
			}
		}
	}
	check("after the changes")
	for i := range workers {
		tr.UntrackAll(fmt.Sprint("owner-", i))
	}
	check("after UntrackAll")
	for _, topic := range topics {
		if n := len(tr.List(ctx, topic)); n != 0 {
			t.Fatalf("%s still lists %d keys", topic, n)
		}
	}
}

// A burst of 10,000 joins on one topic with 10,000 subscribers: every
// Track returns, every subscriber gets every join, and a phoenix.js view
// built from the diffs matches the list.
func TestTenThousandJoinsAtOnce(t *testing.T) {
	t.Parallel()
	const n = 10_000
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		counts := &joinCounter{joins: map[*pubsub.Message]int{}}
		subs := make([]*countingSub, n)
		for i := range subs {
			subs[i] = &countingSub{c: counts}
			ps.Subscribe("room:big", subs[i])
		}
		model := watch(ps, "room:big")

		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := tr.Track(fmt.Sprint("conn-", i), "room:big", fmt.Sprint("user-", i), map[string]any{"online_at": i}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		settle() // Every diff has been broadcast.

		list := tr.List(context.Background(), "room:big")
		if len(list) != n {
			t.Fatalf("List has %d keys, want %d", len(list), n)
		}
		for i, s := range subs {
			if got := s.joins.Load(); got != n {
				t.Fatalf("subscriber %d got %d joins, want %d", i, got, n)
			}
		}
		if !equalRefs(model.view(), refs(list)) {
			t.Fatal("the phoenix.js view built from the diffs differs from List")
		}
		diffs := len(model.diffList())
		t.Logf("%d joins went out in %d presence_diff broadcasts", n, diffs)
		if diffs < n/1000 {
			t.Fatalf("%d diffs: a diff holds at most 1000 metas", diffs)
		}
	})
}

// joinCounter counts the joins of each diff once; countingSub adds them up.
type joinCounter struct {
	mu    sync.Mutex
	joins map[*pubsub.Message]int
}

type countingSub struct {
	c     *joinCounter
	joins atomic.Int64
}

func (s *countingSub) Deliver(m *pubsub.Message) {
	s.c.mu.Lock()
	n, ok := s.c.joins[m]
	if !ok {
		var d wireDiff
		if err := json.Unmarshal(m.Payload.Bytes(), &d); err != nil {
			panic(err)
		}
		for _, p := range d.Joins {
			n += len(p.Metas)
		}
		s.c.joins[m] = n
	}
	s.c.mu.Unlock()
	s.joins.Add(int64(n))
}

// TestDiffWindow checks that a topic's changes wait the window, no more,
// and go out as one diff; that a negative window sends them as soon as
// the shard's goroutine takes them; and that Shutdown does not wait.
func TestDiffWindow(t *testing.T) {
	t.Parallel()
	const window = 40 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, &presence.Options{DiffWindow: window})
		w := watch(ps, "room:1")
		for i := range 5 {
			if _, err := tr.Track(fmt.Sprint("o", i), "room:1", fmt.Sprint("u", i), nil); err != nil {
				t.Fatal(err)
			}
			time.Sleep(window / 10)
		}
		synctest.Wait()
		if got := len(w.diffList()); got != 0 {
			t.Fatalf("%d diffs before the window is over, want 0", got)
		}
		time.Sleep(window / 2) // The first change has waited the window now.
		synctest.Wait()
		diffs := w.diffList()
		if len(diffs) != 1 || len(diffs[0].Joins) != 5 || len(diffs[0].Leaves) != 0 {
			t.Fatalf("diffs after the window: %+v, want one with the 5 joins", diffs)
		}
		if view, list := w.view(), refs(tr.List(context.Background(), "room:1")); !equalRefs(view, list) {
			t.Fatalf("view %s, List %s", showRefs(view), showRefs(list))
		}
		// Shutdown sends what waits at once.
		tr.Untrack("o0", "room:1", "u0")
		start := time.Now()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d >= window {
			t.Fatalf("Shutdown waited %v for the window", d)
		}
		synctest.Wait()
		if diffs := w.diffList(); len(diffs) != 2 || len(diffs[1].Leaves) != 1 {
			t.Fatalf("diffs after Shutdown: %+v, want the leave", diffs)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, &presence.Options{DiffWindow: -1})
		w := watch(ps, "room:1")
		for i := range 3 {
			if _, err := tr.Track("o", "room:1", fmt.Sprint("u", i), nil); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // No time passes: the diff went out already.
		}
		if got := len(w.diffList()); got != 3 {
			t.Fatalf("no window: %d diffs, want 3", got)
		}
	})
}

// TestDiffWindowViewMatchesList tracks and untracks at random, several
// owners per key, letting the window pass at random points, and compares
// a subscriber's view (phoenix.js's rules, metas in order) with List.
func TestDiffWindowViewMatchesList(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		w := watch(ps, "room:1")
		rng := rand.New(rand.NewPCG(1, 2))
		tracked := map[[2]string]bool{}
		for i := range 400 {
			owner, key := fmt.Sprint("o", rng.IntN(6)), fmt.Sprint("k", rng.IntN(3))
			if tracked[[2]string{owner, key}] {
				tr.Untrack(owner, "room:1", key)
				delete(tracked, [2]string{owner, key})
			} else {
				if _, err := tr.Track(owner, "room:1", key, nil); err != nil {
					t.Fatal(err)
				}
				tracked[[2]string{owner, key}] = true
			}
			if i%17 == 0 {
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			}
		}
		settle()
		view := w.orderedView()
		list := map[string][]string{}
		for k, p := range tr.List(context.Background(), "room:1") {
			for _, m := range p.Metas {
				list[k] = append(list[k], m.Ref)
			}
		}
		if !equalRefs(view, list) {
			t.Fatalf("view %s\nList %s", showRefs(view), showRefs(list))
		}
		if n := len(w.diffList()); n >= 400 {
			t.Fatalf("%d diffs for 400 changes: nothing merged", n)
		}
	})
}
