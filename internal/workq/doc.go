// Package workq runs a goroutine while there is work, and owns every
// goroutine it starts.
//
// It is the one mechanism behind a channel's mailbox, a presence shard's
// diff queue, a gossip worker, a long-poll session's inbound frames and a
// WebSocket connection's writer: producers push items from any goroutine
// without blocking, and a single consumer goroutine, started on demand,
// hands them to a function in batches.
//
// Start with [Group] and [New]:
//
//	var g workq.Group
//	q := workq.New(&g, func(batch []Frame) { write(batch) }, &workq.Options[Frame]{
//		Limit: 1 << 20,
//		Cost:  func(f Frame) int { return len(f.Data) },
//	})
//	if err := q.Push(f); errors.Is(err, workq.ErrFull) {
//		// Slow consumer: close the socket.
//	}
//	...
//	q.Close()
//	g.Close()
//	err := g.Wait(ctx)
//
// # Groups
//
// A [Group] counts the goroutines it started, refuses new ones after
// [Group.Close], and [Group.Wait] blocks until none is left or a context is
// done. Unlike [sync.WaitGroup], starting a goroutine while another
// goroutine waits is allowed, so a goroutine of the Group may start others
// (a queue pushing into another queue) and Wait still sees them.
//
// # Queues
//
// A [Queue] keeps the pushed items in push order. Push takes the queue's
// mutex, appends, and starts the queue's goroutine if none runs (or wakes
// the parked one with [Options.Linger] or [Options.LingerBusy]); it never
// waits for the consumer.
// [Options.Limit] and [Options.Cost] bound what may wait; past the bound
// Push returns [ErrFull] and the caller decides (usually: drop the slow
// consumer). Two buffers are swapped between Push and the goroutine, so a
// queue in steady state allocates nothing.
//
// # Goroutines
//
//   - Push, Resume, Close, Clear, Len and Cost run on the caller's
//     goroutine, from any goroutine, and never block beyond the queue's
//     mutex. [Options.Cost] runs on the pushing goroutine.
//   - fn and [Options.Drained] run on the queue's goroutine, owned by the
//     queue's Group. At most one such goroutine exists per queue at any
//     time, so fn calls never overlap and Drained runs after the last one.
//   - Without Linger the goroutine ends as soon as it finds the queue empty
//     and the next Push starts a new one. With Linger it parks until the
//     next Push or Close. With [Options.LingerBusy] it parks, for up to
//     that long, only when the queue had emptied less than that before
//     too: a busy queue keeps its goroutine from one item to the next,
//     an occasional one does not hold it.
//
// # Concurrency rules
//
// No lock of a queue is held while fn, Drained or Cost runs, so they may
// call any method of any queue, including their own. An item pushed while
// fn runs is handed over in a later batch: no wake-up is lost. The batch
// slice passed to fn is reused after fn returns and must not be kept.
//
// A panic in fn or Drained is not recovered here; it crashes the program
// as in any goroutine. Callers that must survive a panic (a channel
// handler) recover inside fn.
//
// # Lock order
//
// A Queue's mutex may be held while its Group's mutex is taken (to count a
// new goroutine); the Group's mutex is a leaf and is never held while
// taking another lock. Neither is held while user code runs.
package workq
