package sendbatch

import (
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counter struct{ n *atomic.Int32 }

func (c counter) Flush() { c.n.Add(1) }

// Flush flushes every connection added exactly once, small batches and
// batches large enough to be split between goroutines, and returns after
// the last; a Batch from Get is empty, also one given back.
func TestFlushEachOnce(t *testing.T) {
	for _, n := range []int{0, 1, 5, partSize, 2*partSize + 1, 10_000} {
		b := Get()
		if b.Len() != 0 {
			t.Fatalf("Get returned a batch of %d", b.Len())
		}
		counts := make([]atomic.Int32, n)
		for i := range counts {
			b.Add(counter{&counts[i]})
		}
		b.Flush()
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("batch of %d: connection %d flushed %d times when Flush returned", n, i, c)
			}
		}
	}
}
