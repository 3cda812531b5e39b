package workq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupGoAndRunning(t *testing.T) {
	t.Parallel()
	var g Group
	shutdown(t, &g)
	if n := g.Running(); n != 0 {
		t.Fatalf("zero Group: Running() = %d, want 0", n)
	}
	release := make(chan struct{})
	var ran atomic.Int32
	const n = 5
	for range n {
		if !g.Go(func() { <-release; ran.Add(1) }) {
			t.Fatal("Go reported false on an open Group")
		}
	}
	// Go counts the goroutine before it returns.
	if got := g.Running(); got != n {
		t.Fatalf("Running() = %d with %d blocked goroutines, want %d", got, n, n)
	}
	close(release)
	waitGroup(t, &g)
	if got := g.Running(); got != 0 {
		t.Fatalf("Running() = %d after Wait, want 0", got)
	}
	if got := ran.Load(); got != n {
		t.Fatalf("%d goroutines ran, want %d", got, n)
	}
}

func TestGroupClose(t *testing.T) {
	t.Parallel()
	var g Group
	release := make(chan struct{})
	if !g.Go(func() { <-release }) {
		t.Fatal("Go reported false on an open Group")
	}
	g.Close()
	g.Close() // Idempotent.
	var ran atomic.Bool
	if g.Go(func() { ran.Store(true) }) {
		t.Fatal("Go reported true after Close")
	}
	// The goroutine started before Close goes on.
	if got := g.Running(); got != 1 {
		t.Fatalf("Running() = %d after Close, want 1", got)
	}
	close(release)
	waitGroup(t, &g)
	if ran.Load() {
		t.Fatal("Go ran f after Close")
	}
}

func TestGroupWaitContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{
			name: "cancelled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			want: context.Canceled,
		},
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 10*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var g Group
			// Nothing running: Wait returns nil whatever the context.
			ctx, cancel := tt.ctx()
			<-ctx.Done()
			if err := g.Wait(ctx); err != nil {
				t.Fatalf("Wait on an idle Group = %v, want nil", err)
			}
			cancel()

			release := make(chan struct{})
			g.Go(func() { <-release })
			ctx, cancel = tt.ctx()
			defer cancel()
			if err := g.Wait(ctx); !errors.Is(err, tt.want) {
				t.Fatalf("Wait = %v, want %v", err, tt.want)
			}
			if got := g.Running(); got != 1 {
				t.Fatalf("Running() = %d after a failed Wait, want 1", got)
			}
			close(release)
			waitGroup(t, &g)
		})
	}
}

// TestGroupWaitSeesNestedGo starts a chain of goroutines, each started by
// the previous one just before it ends, while several Waits block: none
// may return before the last one has finished.
func TestGroupWaitSeesNestedGo(t *testing.T) {
	t.Parallel()
	const depth, waiters = 500, 4
	var (
		g        Group
		finished atomic.Int32
		step     func(i int)
	)
	step = func(i int) {
		if i < depth {
			if !g.Go(func() { step(i + 1) }) {
				t.Error("Go refused inside the Group")
			}
		}
		finished.Add(1)
	}
	gate := make(chan struct{})
	g.Go(func() { <-gate; step(1) })

	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := g.Wait(ctx); err != nil {
				t.Errorf("Wait: %v", err)
				return
			}
			if got := finished.Load(); got != depth {
				t.Errorf("Wait returned with %d of %d goroutines finished", got, depth)
			}
		})
	}
	close(gate)
	wg.Wait()
	if got := g.Running(); got != 0 {
		t.Fatalf("Running() = %d after Wait, want 0", got)
	}
}

// TestGroupWaitSeesQueueChain has a queue's goroutine push into a second
// queue of the same Group, and the first queue's Drained close the
// second: Wait must cover the second queue's goroutines.
func TestGroupWaitSeesQueueChain(t *testing.T) {
	t.Parallel()
	for _, linger := range []bool{false, true} {
		t.Run(lingerName(linger), func(t *testing.T) {
			t.Parallel()
			const n = 1000
			var (
				g    Group
				last recorder[int]
			)
			second := New(&g, last.fn, &Options[int]{Linger: linger})
			first := New(&g, func(batch []int) {
				for _, v := range batch {
					if err := second.Push(v); err != nil {
						t.Errorf("second.Push: %v", err)
					}
				}
			}, &Options[int]{Linger: linger, Drained: second.Close})
			for i := range n {
				if err := first.Push(i); err != nil {
					t.Fatalf("Push(%d): %v", i, err)
				}
			}
			first.Close()
			waitGroup(t, &g)
			if got := last.len(); got != n {
				t.Fatalf("Wait returned with %d of %d items through both queues", got, n)
			}
		})
	}
}

func lingerName(linger bool) string {
	if linger {
		return "linger"
	}
	return "nolinger"
}

func TestGroupAddDone(t *testing.T) {
	t.Parallel()
	var g Group
	if !g.Add() {
		t.Fatal("Add refused on an open group")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); err == nil {
		t.Fatal("Wait returned while a unit was counted")
	}
	g.Done()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if g.Add() {
		t.Fatal("Add counted after Close")
	}
}
