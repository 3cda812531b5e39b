package workq

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// item is what the concurrent tests push: pusher p's i-th item.
type item struct{ p, i int }

// pushAll runs pushers goroutines that each push n items into q, and
// waits for them.
func pushAll(t *testing.T, q *Queue[item], pushers, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() {
			for i := range n {
				if err := q.Push(item{p, i}); err != nil {
					t.Errorf("Push(%d, %d): %v", p, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestQueueOrderPerPusher(t *testing.T) {
	t.Parallel()
	for _, linger := range []bool{false, true} {
		t.Run(lingerName(linger), func(t *testing.T) {
			t.Parallel()
			const pushers, n = 8, 2000
			var (
				g   Group
				rec recorder[item]
			)
			q := New(&g, rec.fn, &Options[item]{Linger: linger})
			shutdown(t, &g, q)
			pushAll(t, q, pushers, n)
			q.Close()
			waitGroup(t, &g)

			got := rec.got()
			if len(got) != pushers*n {
				t.Fatalf("delivered %d items, want %d", len(got), pushers*n)
			}
			next := make([]int, pushers)
			for k, it := range got {
				if it.i != next[it.p] {
					t.Fatalf("item %d: pusher %d's #%d, want #%d", k, it.p, it.i, next[it.p])
				}
				next[it.p]++
			}
			rec.mu.Lock()
			batches := rec.batches
			rec.mu.Unlock()
			t.Logf("%d items in %d batches", len(got), batches)
		})
	}
}

func TestQueueOneRunner(t *testing.T) {
	t.Parallel()
	for _, linger := range []bool{false, true} {
		t.Run(lingerName(linger), func(t *testing.T) {
			t.Parallel()
			const pushers, n = 8, 1000
			var (
				g                 Group
				inFlight, handled atomic.Int32
				overlap           atomic.Bool
			)
			q := New(&g, func(batch []item) {
				if inFlight.Add(1) > 1 {
					overlap.Store(true)
				}
				runtime.Gosched() // Widen the window for a second runner.
				handled.Add(int32(len(batch)))
				inFlight.Add(-1)
			}, &Options[item]{Linger: linger})
			shutdown(t, &g, q)
			pushAll(t, q, pushers, n)
			q.Close()
			waitGroup(t, &g)
			if overlap.Load() {
				t.Fatal("two calls of fn overlapped")
			}
			if got := handled.Load(); got != pushers*n {
				t.Fatalf("handled %d items, want %d", got, pushers*n)
			}
		})
	}
}

// TestQueueNoLostWakeup has each pusher push one item and wait for it to
// be handed over before pushing the next, so that pushes keep landing
// while the goroutine is deciding to end or park. A lost wake-up leaves
// an item waiting with no goroutine to hand it over, and the pusher times
// out.
func TestQueueNoLostWakeup(t *testing.T) {
	t.Parallel()
	for _, linger := range []bool{false, true} {
		t.Run(lingerName(linger), func(t *testing.T) {
			t.Parallel()
			const pushers, n, budget = 16, 2000, 2 * time.Second
			var g Group
			acks := make([]chan struct{}, pushers)
			for p := range acks {
				acks[p] = make(chan struct{}, 1) // One item in flight per pusher.
			}
			q := New(&g, func(batch []item) {
				for _, it := range batch {
					acks[it.p] <- struct{}{}
				}
			}, &Options[item]{Linger: linger})
			shutdown(t, &g, q)

			start := time.Now()
			var wg sync.WaitGroup
			var total atomic.Int64
			for p := range pushers {
				wg.Go(func() {
					for i := 0; i < n && time.Since(start) < budget; i++ {
						if err := q.Push(item{p, i}); err != nil {
							t.Errorf("Push: %v", err)
							return
						}
						select {
						case <-acks[p]:
							total.Add(1)
						case <-time.After(patience):
							t.Errorf("pusher %d: item %d not handed over after %v (Len %d, Running %d)",
								p, i, patience, q.Len(), g.Running())
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%d round trips in %v", total.Load(), time.Since(start).Round(time.Millisecond))
			if q.Len() != 0 {
				t.Fatalf("Len() = %d after every item was acknowledged", q.Len())
			}
		})
	}
}

// TestQueueLinger checks that a lingering queue hands every burst to the
// same goroutine, parked in between, and ends it on Close; and that
// without Linger each burst gets a new goroutine.
func TestQueueLinger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		linger bool
		idle   func(g *Group, q *Queue[int]) bool // The goroutine is done with a burst.
	}{
		{linger: true, idle: func(_ *Group, q *Queue[int]) bool {
			q.mu.Lock()
			defer q.mu.Unlock()
			return q.parked
		}},
		{linger: false, idle: func(g *Group, _ *Queue[int]) bool { return g.Running() == 0 }},
	}
	for _, tt := range tests {
		t.Run(lingerName(tt.linger), func(t *testing.T) {
			t.Parallel()
			const bursts, size = 5, 20
			var (
				g        Group
				mu       sync.Mutex
				ids      = map[uint64]bool{}
				drainedG atomic.Uint64
				rec      recorder[int]
			)
			q := New(&g, func(batch []int) {
				mu.Lock()
				ids[goid()] = true
				mu.Unlock()
				rec.fn(batch)
			}, &Options[int]{Linger: tt.linger, Drained: func() { drainedG.Store(goid()) }})
			shutdown(t, &g, q)

			for b := range bursts {
				for i := range size {
					if err := q.Push(b*size + i); err != nil {
						t.Fatal(err)
					}
				}
				rec.waitLen(t, (b+1)*size)
				waitFor(t, "the goroutine to finish the burst", func() bool { return tt.idle(&g, q) })
				if tt.linger && g.Running() != 1 {
					t.Fatalf("burst %d: Running() = %d while parked, want 1", b, g.Running())
				}
			}
			mu.Lock()
			starts := len(ids)
			var first uint64
			for id := range ids {
				first = id
			}
			mu.Unlock()
			// Without Linger each burst needs a new goroutine, and one may
			// also end mid-burst when it outruns the pusher.
			if tt.linger && starts != 1 {
				t.Fatalf("batches ran on %d goroutines, want 1", starts)
			}
			if !tt.linger && starts < bursts {
				t.Fatalf("batches ran on %d goroutines, want at least %d", starts, bursts)
			}

			q.Close()
			waitGroup(t, &g) // A lingering goroutine that ignored Close times out here.
			if tt.linger && drainedG.Load() != first {
				t.Fatalf("Drained ran on goroutine %d, want the lingering one, %d", drainedG.Load(), first)
			}
			if !slices.Equal(rec.got(), seq(bursts*size)) {
				t.Fatalf("delivered %v", rec.got())
			}
		})
	}
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestQueueLimit(t *testing.T) {
	t.Parallel()
	byLen := func(s string) int { return len(s) }
	tests := []struct {
		name     string
		limit    int
		cost     func(string) int
		push     []string
		want     []error
		wantCost int
	}{
		{
			name: "count", limit: 2,
			push: []string{"a", "bb", "c"}, want: []error{nil, nil, ErrFull}, wantCost: 2,
		},
		{
			name: "cost up to the limit", limit: 5, cost: byLen,
			push: []string{"ab", "cd", "ef", "g"}, want: []error{nil, nil, ErrFull, nil}, wantCost: 5,
		},
		{
			name: "oversized first item accepted alone", limit: 3, cost: byLen,
			push: []string{"abcdef", "x"}, want: []error{nil, ErrFull}, wantCost: 6,
		},
		{
			name: "oversized later item refused", limit: 3, cost: byLen,
			push: []string{"a", "abcdef", "bc"}, want: []error{nil, ErrFull, nil}, wantCost: 3,
		},
		{
			name: "no limit", cost: byLen,
			push: []string{"abc", "def", "ghi"}, want: []error{nil, nil, nil}, wantCost: 9,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				g   Group
				rec recorder[string]
			)
			// Paused: nothing is handed over, so every item keeps counting.
			q := New(&g, rec.fn, &Options[string]{Limit: tt.limit, Cost: tt.cost, Paused: true})
			shutdown(t, &g, q)
			var accepted []string
			for i, s := range tt.push {
				err := q.Push(s)
				if !errors.Is(err, tt.want[i]) {
					t.Fatalf("Push(%q) = %v, want %v", s, err, tt.want[i])
				}
				if err == nil {
					accepted = append(accepted, s)
				}
			}
			if q.Len() != len(accepted) || q.Cost() != tt.wantCost {
				t.Fatalf("Len, Cost = %d, %d; want %d, %d", q.Len(), q.Cost(), len(accepted), tt.wantCost)
			}
			// Cleared items no longer count: the queue is empty again.
			if got := q.Clear(); !slices.Equal(got, accepted) {
				t.Fatalf("Clear() = %q, want %q", got, accepted)
			}
			if q.Len() != 0 || q.Cost() != 0 {
				t.Fatalf("after Clear: Len, Cost = %d, %d; want 0, 0", q.Len(), q.Cost())
			}
			if err := q.Push(tt.push[0]); err != nil {
				t.Fatalf("Push after Clear: %v", err)
			}
			q.Resume()
			rec.waitLen(t, 1)
			if got := rec.got(); !slices.Equal(got, tt.push[:1]) {
				t.Fatalf("delivered %q, want %q", got, tt.push[:1])
			}
		})
	}
}

// TestQueueCostOfBatch checks that items stop counting against the Limit
// once they are handed to fn.
func TestQueueCostOfBatch(t *testing.T) {
	t.Parallel()
	var g Group
	held, release := make(chan []int, 1), make(chan struct{})
	q := New(&g, func(batch []int) {
		held <- slices.Clone(batch)
		<-release
	}, &Options[int]{Limit: 3, Cost: func(v int) int { return v }})
	shutdown(t, &g, q)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // Runs before shutdown's cleanup.

	if err := q.Push(3); err != nil {
		t.Fatal(err)
	}
	if got := <-held; !slices.Equal(got, []int{3}) {
		t.Fatalf("first batch %v, want [3]", got)
	}
	if q.Len() != 0 || q.Cost() != 0 {
		t.Fatalf("while fn holds the batch: Len, Cost = %d, %d; want 0, 0", q.Len(), q.Cost())
	}
	for _, v := range []int{1, 2} { // 3 in fn + 1 + 2 would pass the Limit if it still counted.
		if err := q.Push(v); err != nil {
			t.Fatalf("Push(%d) while fn holds 3: %v", v, err)
		}
	}
	if err := q.Push(1); !errors.Is(err, ErrFull) {
		t.Fatalf("Push(1) with cost 3 waiting = %v, want ErrFull", err)
	}
	unblock()
	if got := <-held; !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("second batch %v, want [1 2]", got)
	}
}

func TestQueuePausedResume(t *testing.T) {
	t.Parallel()
	for _, linger := range []bool{false, true} {
		t.Run(lingerName(linger), func(t *testing.T) {
			t.Parallel()
			var (
				g   Group
				rec recorder[int]
			)
			q := New(&g, rec.fn, &Options[int]{Paused: true, Linger: linger})
			shutdown(t, &g, q)
			for i := range 5 {
				if err := q.Push(i); err != nil {
					t.Fatal(err)
				}
			}
			if g.Running() != 0 || q.Len() != 5 {
				t.Fatalf("paused: Running, Len = %d, %d; want 0, 5", g.Running(), q.Len())
			}
			q.Resume()
			q.Resume() // No effect on a running queue.
			if err := q.Push(5); err != nil {
				t.Fatal(err)
			}
			rec.waitLen(t, 6)
			if got := rec.got(); !slices.Equal(got, seq(6)) {
				t.Fatalf("delivered %v, want %v", got, seq(6))
			}
		})
	}
}

func TestQueueClose(t *testing.T) {
	t.Parallel()

	t.Run("queued items are still delivered", func(t *testing.T) {
		t.Parallel()
		for _, linger := range []bool{false, true} {
			t.Run(lingerName(linger), func(t *testing.T) {
				t.Parallel()
				var (
					g        Group
					rec      recorder[int]
					drained  atomic.Int32
					atDrain  atomic.Int32
					gate     = make(chan struct{})
					gateOnce sync.Once
				)
				q := New(&g, func(batch []int) {
					<-gate
					rec.fn(batch)
				}, &Options[int]{Linger: linger, Drained: func() {
					atDrain.Store(int32(rec.len()))
					drained.Add(1)
				}})
				shutdown(t, &g, q)
				t.Cleanup(func() { gateOnce.Do(func() { close(gate) }) })

				if err := q.Push(0); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "fn to take item 0", func() bool { return q.Len() == 0 })
				for _, v := range []int{1, 2} {
					if err := q.Push(v); err != nil {
						t.Fatal(err)
					}
				}
				q.Close()
				q.Close()
				if err := q.Push(3); !errors.Is(err, ErrClosed) {
					t.Fatalf("Push after Close = %v, want ErrClosed", err)
				}
				if q.Len() != 2 {
					t.Fatalf("Len() = %d after Close, want 2 still queued", q.Len())
				}
				gateOnce.Do(func() { close(gate) })
				waitGroup(t, &g)
				if got := rec.got(); !slices.Equal(got, seq(3)) {
					t.Fatalf("delivered %v, want %v", got, seq(3))
				}
				if drained.Load() != 1 || atDrain.Load() != 3 {
					t.Fatalf("Drained ran %d times, first with %d items delivered; want once, with 3",
						drained.Load(), atDrain.Load())
				}
			})
		}
	})

	t.Run("never started", func(t *testing.T) {
		t.Parallel()
		var (
			g       Group
			drained atomic.Int32
		)
		q := New(&g, func([]int) { t.Error("fn called") }, &Options[int]{Drained: func() { drained.Add(1) }})
		shutdown(t, &g, q)
		q.Close()
		waitGroup(t, &g)
		q.Close()
		q.Resume()
		waitGroup(t, &g)
		if got := drained.Load(); got != 1 {
			t.Fatalf("Drained ran %d times, want 1", got)
		}
	})

	t.Run("while paused", func(t *testing.T) {
		t.Parallel()
		var (
			g       Group
			rec     recorder[int]
			drained atomic.Int32
		)
		q := New(&g, rec.fn, &Options[int]{Paused: true, Drained: func() { drained.Add(1) }})
		shutdown(t, &g, q)
		for i := range 2 {
			if err := q.Push(i); err != nil {
				t.Fatal(err)
			}
		}
		q.Close()
		// No goroutine, so neither fn nor Drained can run.
		if g.Running() != 0 || q.Len() != 2 {
			t.Fatalf("closed while paused: Running, Len = %d, %d; want 0, 2", g.Running(), q.Len())
		}
		if err := q.Push(2); !errors.Is(err, ErrClosed) {
			t.Fatalf("Push after Close = %v, want ErrClosed", err)
		}
		waitGroup(t, &g)
		if rec.len() != 0 || drained.Load() != 0 {
			t.Fatalf("closed while paused: %d items delivered, Drained ran %d times; want 0, 0", rec.len(), drained.Load())
		}
		// Resuming later delivers what waits, then runs Drained.
		q.Resume()
		waitGroup(t, &g)
		if got := rec.got(); !slices.Equal(got, seq(2)) || drained.Load() != 1 {
			t.Fatalf("after Resume: delivered %v, Drained ran %d times; want [0 1], 1", got, drained.Load())
		}
	})

	t.Run("from fn", func(t *testing.T) {
		t.Parallel()
		for _, linger := range []bool{false, true} {
			t.Run(lingerName(linger), func(t *testing.T) {
				t.Parallel()
				var (
					g       Group
					rec     recorder[int]
					drained atomic.Int32
					q       *Queue[int]
				)
				q = New(&g, func(batch []int) {
					rec.fn(batch)
					q.Close()
					if err := q.Push(99); !errors.Is(err, ErrClosed) {
						t.Errorf("Push from fn after Close = %v, want ErrClosed", err)
					}
				}, &Options[int]{Linger: linger, Drained: func() { drained.Add(1) }})
				shutdown(t, &g, q)
				if err := q.Push(0); err != nil {
					t.Fatal(err)
				}
				waitGroup(t, &g)
				if got := rec.got(); !slices.Equal(got, []int{0}) || drained.Load() != 1 {
					t.Fatalf("delivered %v, Drained ran %d times; want [0], 1", got, drained.Load())
				}
			})
		}
	})

	t.Run("cleared items are not delivered", func(t *testing.T) {
		t.Parallel()
		var (
			g       Group
			drained atomic.Int32
		)
		q := New(&g, func([]int) { t.Error("fn called") }, &Options[int]{Paused: true, Drained: func() { drained.Add(1) }})
		shutdown(t, &g, q)
		for i := range 3 {
			if err := q.Push(i); err != nil {
				t.Fatal(err)
			}
		}
		q.Close()
		if got := q.Clear(); !slices.Equal(got, seq(3)) {
			t.Fatalf("Clear() = %v, want %v", got, seq(3))
		}
		q.Resume()
		waitGroup(t, &g)
		if drained.Load() != 1 {
			t.Fatalf("Drained ran %d times, want 1", drained.Load())
		}
	})
}

func TestQueueClear(t *testing.T) {
	t.Parallel()
	var (
		g   Group
		rec recorder[string]
	)
	q := New(&g, rec.fn, &Options[string]{Paused: true})
	shutdown(t, &g, q)
	if got := q.Clear(); got != nil {
		t.Fatalf("Clear() on an empty queue = %q, want nil", got)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := q.Push(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := q.Clear(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Clear() = %q, want [a b c]", got)
	}
	if q.Len() != 0 || q.Cost() != 0 {
		t.Fatalf("after Clear: Len, Cost = %d, %d; want 0, 0", q.Len(), q.Cost())
	}
	q.Resume()
	if g.Running() != 0 {
		t.Fatalf("Resume of a cleared queue started %d goroutines, want 0", g.Running())
	}
	if err := q.Push("d"); err != nil {
		t.Fatal(err)
	}
	rec.waitLen(t, 1)
	q.Close()
	waitGroup(t, &g)
	if got := rec.got(); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("delivered %q, want [d]", got)
	}
}

// TestQueueClearWhileRunning clears the items waiting behind a batch fn
// holds: the batch is handed over whole, the cleared items never are.
func TestQueueClearWhileRunning(t *testing.T) {
	t.Parallel()
	var (
		g       Group
		rec     recorder[int]
		release = make(chan struct{})
	)
	q := New(&g, func(batch []int) {
		rec.fn(batch)
		<-release
	}, nil)
	shutdown(t, &g, q)
	if err := q.Push(0); err != nil {
		t.Fatal(err)
	}
	rec.waitLen(t, 1)
	for i := 1; i <= 3; i++ {
		if err := q.Push(i); err != nil {
			t.Fatal(err)
		}
	}
	if got := q.Clear(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("Clear() = %v, want [1 2 3]", got)
	}
	if err := q.Push(4); err != nil {
		t.Fatal(err)
	}
	close(release)
	q.Close()
	waitGroup(t, &g)
	if got := rec.got(); !slices.Equal(got, []int{0, 4}) {
		t.Fatalf("delivered %v, want [0 4]", got)
	}
}

func TestQueueGroupClosed(t *testing.T) {
	t.Parallel()

	t.Run("push refused", func(t *testing.T) {
		t.Parallel()
		var g Group
		g.Close()
		q := New(&g, func([]int) { t.Error("fn called") }, &Options[int]{Drained: func() { t.Error("Drained called") }})
		if err := q.Push(1); !errors.Is(err, ErrClosed) {
			t.Fatalf("Push with a closed Group = %v, want ErrClosed", err)
		}
		if q.Len() != 0 || q.Cost() != 0 {
			t.Fatalf("refused item queued: Len, Cost = %d, %d", q.Len(), q.Cost())
		}
		q.Close()
		waitGroup(t, &g)
	})

	t.Run("paused queue keeps items", func(t *testing.T) {
		t.Parallel()
		var g Group
		g.Close()
		q := New(&g, func([]int) { t.Error("fn called") }, &Options[int]{Paused: true})
		if err := q.Push(1); err != nil {
			t.Fatalf("Push into a paused queue needs no goroutine, got %v", err)
		}
		q.Resume()
		if g.Running() != 0 || q.Len() != 1 {
			t.Fatalf("Resume with a closed Group: Running, Len = %d, %d; want 0, 1", g.Running(), q.Len())
		}
		if err := q.Push(2); !errors.Is(err, ErrClosed) {
			t.Fatalf("Push that needs a goroutine = %v, want ErrClosed", err)
		}
	})

	t.Run("lingering goroutine goes on", func(t *testing.T) {
		t.Parallel()
		var (
			g   Group
			rec recorder[int]
		)
		q := New(&g, rec.fn, &Options[int]{Linger: true})
		shutdown(t, &g, q)
		if err := q.Push(0); err != nil {
			t.Fatal(err)
		}
		rec.waitLen(t, 1)
		g.Close()
		if err := q.Push(1); err != nil {
			t.Fatalf("Push to a started lingering queue after Group.Close: %v", err)
		}
		q.Close()
		waitGroup(t, &g)
		if got := rec.got(); !slices.Equal(got, seq(2)) {
			t.Fatalf("delivered %v, want [0 1]", got)
		}
	})
}

// TestQueueBatchNotRetained checks that the batch slice holds no
// reference once fn has returned, so the queue keeps nothing alive.
func TestQueueBatchNotRetained(t *testing.T) {
	t.Parallel()
	var (
		g     Group
		mu    sync.Mutex
		seen  []*int
		batch []*int
	)
	q := New(&g, func(b []*int) {
		mu.Lock()
		seen = append(seen, b...)
		batch = b[:cap(b)] // Deliberately kept, to look at afterwards.
		mu.Unlock()
	}, nil)
	shutdown(t, &g, q)
	for i := range 10 {
		if err := q.Push(&i); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	waitGroup(t, &g)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 10 {
		t.Fatalf("delivered %d items, want 10", len(seen))
	}
	for i, p := range batch {
		if p != nil {
			t.Fatalf("batch[%d] still points to item %d after fn returned", i, *p)
		}
	}
}

func TestQueuePushAllocs(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	if testing.Short() {
		t.Skip("counts allocations of the whole program")
	}
	for _, linger := range []bool{false, true} {
		t.Run(lingerName(linger), func(t *testing.T) {
			var g Group
			var handled atomic.Int64
			q := New(&g, func(b []int) { handled.Add(int64(len(b))) }, &Options[int]{Linger: linger})
			defer func() { q.Close(); g.Close(); waitGroup(t, &g) }()
			push := func() {
				if err := q.Push(1); err != nil {
					t.Fatal(err)
				}
			}
			for range 10000 { // Grow the buffers and the runtime's free goroutines.
				push()
			}
			waitFor(t, "warm-up items", func() bool { return handled.Load() == 10000 })
			if avg := testing.AllocsPerRun(10000, push); avg != 0 {
				t.Fatalf("Push allocates %v times per call, want 0", avg)
			}
		})
	}
}

func BenchmarkQueuePush(b *testing.B) {
	for _, linger := range []bool{false, true} {
		for _, parallel := range []bool{false, true} {
			name := fmt.Sprintf("%s/parallel=%v", lingerName(linger), parallel)
			b.Run(name, func(b *testing.B) {
				var g Group
				var handled atomic.Int64
				q := New(&g, func(batch []int) { handled.Add(int64(len(batch))) }, &Options[int]{Linger: linger})
				b.ReportAllocs()
				if parallel {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							_ = q.Push(1)
						}
					})
				} else {
					for b.Loop() {
						_ = q.Push(1)
					}
				}
				q.Close()
				g.Close()
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				if err := g.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkQueueRoundTrip pushes one item and waits for fn to take it, so
// that every Push finds the goroutine gone (no Linger: a goroutine start)
// or parked (Linger: a wake-up).
func BenchmarkQueueRoundTrip(b *testing.B) {
	for _, linger := range []bool{false, true} {
		b.Run(lingerName(linger), func(b *testing.B) {
			var g Group
			ack := make(chan struct{}, 1)
			q := New(&g, func([]int) { ack <- struct{}{} }, &Options[int]{Linger: linger})
			b.ReportAllocs()
			for b.Loop() {
				_ = q.Push(1)
				<-ack
			}
			q.Close()
			g.Close()
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := g.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestQueueLingerBusy checks LingerBusy: a queue that empties for the
// first time, or long after the previous time, ends its goroutine at
// once; one that empties again within LingerBusy keeps it parked, hands
// it the next item, and ends it when LingerBusy passes with nothing
// pushed, or on Close.
func TestQueueLingerBusy(t *testing.T) {
	t.Parallel()
	const linger = time.Second
	var (
		g       Group
		lastG   atomic.Uint64
		rec     recorder[int]
		drained = make(chan struct{})
	)
	q := New(&g, func(batch []int) {
		lastG.Store(goid())
		rec.fn(batch)
	}, &Options[int]{LingerBusy: linger, Drained: func() { close(drained) }})
	shutdown(t, &g, q)
	parked := func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.parked
	}
	ended := func() bool { return g.Running() == 0 }
	push := func(v int) {
		t.Helper()
		if err := q.Push(v); err != nil {
			t.Fatal(err)
		}
		rec.waitLen(t, v)
	}

	push(1) // The first time empty: not busy.
	waitFor(t, "the goroutine to end after the first item", ended)
	push(2) // Empty again, within LingerBusy: busy.
	waitFor(t, "the goroutine to park after the second item", parked)
	first := lastG.Load()
	push(3)
	if lastG.Load() != first {
		t.Fatal("the third item started a new goroutine: the parked one was not woken")
	}
	waitFor(t, "the goroutine to park after the third item", parked)
	start := time.Now()
	waitFor(t, "the lingering goroutine to end", ended)
	if d := time.Since(start); d < linger/2 {
		t.Fatalf("the goroutine lingered %v, want about %v", d, linger)
	}

	push(4) // Long after the previous time: not busy, ends at once.
	deadline := time.Now().Add(linger / 2)
	for !ended() {
		if time.Now().After(deadline) || parked() {
			t.Fatal("the goroutine lingered after an item that came long after the previous one")
		}
		time.Sleep(time.Millisecond)
	}

	push(5)
	push(6)
	waitFor(t, "the goroutine to park", parked)
	q.Close()
	select {
	case <-drained:
	case <-time.After(linger / 2):
		t.Fatal("Close did not wake the lingering goroutine")
	}
	waitGroup(t, &g)
	if !slices.Equal(rec.got(), []int{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("delivered %v", rec.got())
	}
}
