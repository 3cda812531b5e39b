// Package sendbatch gathers the connections one broadcast left frames
// waiting on, so that they are written after the fan-out, outside the
// PubSub's lock.
//
// A broadcast to N connections first queues its frame on each of them
// (a few hundred nanoseconds each, under the topic's read lock), noting
// in a Batch every connection that had nothing waiting, and then flushes
// them one by one. A connection flushed later in the pass has by then
// also queued whatever other broadcasts brought it meanwhile, and its
// flush writes all of its frames with one system call: under a burst of
// broadcasts to one room, the server and the clients pay for fewer,
// larger writes and reads.
package sendbatch

import (
	"runtime"
	"slices"
	"sync"
)

// Flusher is a connection holding frames for a Batch: Flush writes them
// (and whatever queued behind them) without blocking, handing what the
// socket does not take to the connection's writer.
type Flusher interface {
	Flush()
}

// Batch is the list of connections one fan-out must flush. Get one with
// [Get]; [Batch.Flush] flushes them and gives the Batch back.
type Batch struct {
	f []Flusher
}

// maxPooled bounds the lists kept for reuse (a batch of a room larger than
// that leaves its list to the garbage collector).
const maxPooled = 1 << 16

var pool = sync.Pool{New: func() any { return new(Batch) }}

// Get returns an empty Batch.
func Get() *Batch { return pool.Get().(*Batch) }

// Add notes that f holds frames until the batch is flushed. Every f added
// must be flushed: the connection writes nothing else until then.
func (b *Batch) Add(f Flusher) { b.f = append(b.f, f) }

// Len is the number of connections waiting for the flush.
func (b *Batch) Len() int { return len(b.f) }

// partSize is the fewest connections a goroutine of a flush takes: a
// large batch is split between up to GOMAXPROCS goroutines, so that a
// broadcast to a large room is written by every CPU, as Phoenix's socket
// processes and a goroutine-per-connection server write it, and not by
// the broadcaster's alone. A flush takes 3 to 5 µs per connection on
// loopback; a goroutine costs about one.
const partSize = 128

// Flush flushes every connection added, once, and gives b back: it must
// not be used after. It returns when every connection is flushed.
func (b *Batch) Flush() {
	parts := min(len(b.f)/partSize, runtime.GOMAXPROCS(0))
	if parts > 1 {
		var wg sync.WaitGroup
		size := (len(b.f) + parts - 1) / parts
		for part := range slices.Chunk(b.f[size:], size) {
			wg.Go(func() { flush(part) })
		}
		flush(b.f[:size])
		wg.Wait()
	} else {
		flush(b.f)
	}
	clear(b.f) // Retain no connection.
	b.f = b.f[:0]
	if cap(b.f) > maxPooled {
		b.f = nil
	}
	pool.Put(b)
}

func flush(fs []Flusher) {
	for _, f := range fs {
		f.Flush()
	}
}
