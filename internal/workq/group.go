package workq

import (
	"context"
	"sync"
)

// Group owns goroutines: it counts them, can refuse new ones, and lets
// any number of callers wait until none is left. Its zero value is ready
// to use. A Group must not be copied after first use.
//
// All methods may be called concurrently, including [Group.Go] from
// goroutines of the same Group while [Group.Wait] is blocked.
type Group struct {
	mu     sync.Mutex // Protects following.
	n      int        // Goroutines started and not yet returned.
	closed bool       // Go refuses.
	// idle is closed when n drops to zero. It is made by the first Wait
	// that finds n > 0 and shared by every Wait until then.
	idle chan struct{}
}

// Go runs f on a new goroutine owned by g and reports true. After
// [Group.Close] it runs nothing and reports false.
//
// A panic in f is not recovered: it crashes the program, as it would with
// a plain go statement.
func (g *Group) Go(f func()) bool {
	if !g.add() {
		return false
	}
	go g.run(f)
	return true
}

func (g *Group) run(f func()) {
	defer g.done()
	f()
}

// add counts one more goroutine unless g is closed. The caller must start
// the goroutine and have it call done when it returns. g.mu must not be
// held; add may be called with a Queue's lock held (g.mu is a leaf lock).
func (g *Group) add() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// done counts one goroutine out and releases the waiters when it was the
// last one.
func (g *Group) done() {
	g.mu.Lock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// Add counts one unit of work that is not a goroutine of g, such as a
// connection being served, and reports true; [Group.Wait] waits for it
// until [Group.Done]. After [Group.Close] it counts nothing and reports
// false.
func (g *Group) Add() bool { return g.add() }

// Done ends a unit counted by [Group.Add].
func (g *Group) Done() { g.done() }

// Close makes later [Group.Go] calls, and the goroutine starts of every
// [Queue] of g, refuse. Goroutines already started go on; use
// [Group.Wait] to wait for them. Close is idempotent.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Wait blocks until no goroutine of g is running, or until ctx is done,
// in which case it returns ctx.Err(). When both have happened it returns
// nil.
//
// Unlike [sync.WaitGroup], it is safe to call [Group.Go] while another
// goroutine waits: a goroutine started before the count reaches zero is
// waited for, which covers every goroutine started by a goroutine of g
// (such as a [Queue] goroutine pushing into another Queue of g). Several
// Waits may run at once. A lingering [Queue] goroutine counts as running
// until its Queue is closed.
func (g *Group) Wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		select {
		case <-idle:
			return nil
		default:
			return ctx.Err()
		}
	}
}

// Running reports how many goroutines of g are running, parked lingering
// [Queue] goroutines included. It is meant for tests and metrics: the
// value may be stale as soon as it is returned.
func (g *Group) Running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
