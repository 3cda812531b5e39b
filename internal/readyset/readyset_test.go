package readyset

import "testing"

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Each channel is closed once, by Take's caller or by a release, and
// only marked channels up to the number asked for are taken.
func TestSet(t *testing.T) {
	var s Set
	a, b, c := s.Add(), s.Add(), s.Add()
	if !s.Mark(1, a) || !s.Mark(2, b) {
		t.Fatal("Mark of open channels reported none")
	}
	if got := s.Take(1); len(got) != 1 || got[0] != a {
		t.Fatalf("Take(1) = %v, want [a]", got)
	}
	s.Release(a, nil) // Taken: not the Set's to close any more.
	if closed(a) {
		t.Fatal("Release closed a channel already taken")
	}
	s.Release(b)
	if !closed(b) {
		t.Fatal("Release left b open")
	}
	if s.Mark(3, b) {
		t.Fatal("Mark of a released channel reported it")
	}
	if got := s.Take(10); len(got) != 0 {
		t.Fatalf("Take took %d unmarked or released channels", len(got))
	}
	s.Close()
	if !closed(c) {
		t.Fatal("Close left c open")
	}
	if s.Add() != nil {
		t.Fatal("Add after Close returned a channel")
	}
}
