package workq

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait in these tests.
const patience = 5 * time.Second

// waitFor polls cond until it holds, failing the test after patience
// (nats-server checkFor).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %v", what, patience)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitGroup waits for every goroutine of g, failing the test after
// patience.
func waitGroup(t testing.TB, g *Group) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := g.Wait(ctx); err != nil {
		t.Fatalf("Group.Wait: %v (%d goroutines running)", err, g.Running())
	}
}

// shutdown closes g and waits for it when the test ends, so that a test
// that fails half-way leaks nothing into the next one.
func shutdown(t testing.TB, g *Group, closers ...interface{ Close() }) {
	t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
		g.Close()
		waitGroup(t, g)
	})
}

// goid returns the calling goroutine's id. Ids are never reused, so two
// batches with the same id ran on the same goroutine.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	b = b[:bytes.IndexByte(b, ' ')]
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("goid: " + err.Error())
	}
	return id
}

// recorder is a queue fn that keeps every item it is handed.
type recorder[T any] struct {
	mu      sync.Mutex
	items   []T
	batches int
}

func (r *recorder[T]) fn(batch []T) {
	r.mu.Lock()
	r.items = append(r.items, batch...)
	r.batches++
	r.mu.Unlock()
}

func (r *recorder[T]) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

func (r *recorder[T]) got() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}

// waitLen waits until r holds n items.
func (r *recorder[T]) waitLen(t testing.TB, n int) {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" items delivered", func() bool { return r.len() >= n })
}
