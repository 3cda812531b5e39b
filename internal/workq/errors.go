package workq

import "errors"

var (
	// ErrClosed is returned by [Queue.Push] after [Queue.Close], or when the
	// queue's [Group] refused to start the goroutine that would hand the item
	// over (the Group was closed). In both cases the item was not queued.
	ErrClosed = errors.New("workq: closed")
	// ErrFull is returned by [Queue.Push] when queuing the item would take
	// the total cost of the waiting items past [Options.Limit]. The item was
	// not queued; callers usually treat this as a slow consumer.
	ErrFull = errors.New("workq: queue full")
)
