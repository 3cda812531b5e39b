package sendbatch

import (
	"slices"
	"testing"
)

type recorder struct {
	id  int
	got *[]int
}

func (r recorder) Flush() { *r.got = append(*r.got, r.id) }

// Flush flushes every connection added, in the order added, once; a
// Batch from Get is empty, also when it is one given back.
func TestFlushInOrder(t *testing.T) {
	var got []int
	for round := range 3 {
		b := Get()
		if b.Len() != 0 {
			t.Fatalf("round %d: Get returned a batch of %d", round, b.Len())
		}
		for i := range 5 {
			b.Add(recorder{round*10 + i, &got})
		}
		b.Flush()
	}
	want := []int{0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24}
	if !slices.Equal(got, want) {
		t.Fatalf("flushed %v, want %v", got, want)
	}
}
