// Package readyset holds the ready channels of broker subscriptions that
// are not confirmed yet, for Pyre's network adapters (pubsub.Adapter's
// Watch returns one). Each channel is closed once, by whoever comes
// first: the confirmation of its subscription (the caller closes what
// Take returns), or a release (a failed subscription, a lost connection,
// Close).
package readyset

import "sync"

// Set is a set of ready channels, each with a mark: 0 until its
// subscription is sent to the broker, then the number of the round trip
// that confirms it. The zero value is ready to use. Its methods may be
// called under a PubSub's lock: they take only the Set's own.
type Set struct {
	mu     sync.Mutex
	open   map[chan struct{}]uint64
	closed bool // Close released everything: Add returns nil.
}

// Add returns a new ready channel, unmarked, or nil after Close.
func (s *Set) Add() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.open == nil {
		s.open = make(map[chan struct{}]uint64)
	}
	c := make(chan struct{})
	s.open[c] = 0
	return c
}

// Mark marks those of chs still open with mark (not 0) and reports
// whether there was any.
func (s *Set) Mark(mark uint64, chs ...chan struct{}) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	any := false
	for _, c := range chs {
		if _, ok := s.open[c]; ok {
			s.open[c] = mark
			any = true
		}
	}
	return any
}

// Take removes and returns the channels marked with at most max, for the
// caller to close once their subscriptions are confirmed.
func (s *Set) Take(max uint64) []chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	var taken []chan struct{}
	for c, m := range s.open {
		if m != 0 && m <= max {
			delete(s.open, c)
			taken = append(taken, c)
		}
	}
	return taken
}

// Release closes those of chs still open; nil ones are ignored.
func (s *Set) Release(chs ...chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range chs {
		if _, ok := s.open[c]; ok {
			delete(s.open, c)
			close(c)
		}
	}
}

// ReleaseAll closes every open channel.
func (s *Set) ReleaseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.open {
		delete(s.open, c)
		close(c)
	}
}

// Close closes every open channel, and makes Add return nil from now on.
func (s *Set) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ReleaseAll()
}
