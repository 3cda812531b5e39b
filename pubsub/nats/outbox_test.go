package nats

import (
	"errors"
	"testing"

	"github.com/pyrehq/pyre/pubsub"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	o := newOutbox(10)
	pub := func(n int) outItem { return outItem{kind: outPublish, data: make([]byte, n)} }
	if err := o.push(pub(20)); err != nil {
		t.Fatalf("one publication past the limit into an empty outbox: %v", err)
	}
	if err := o.push(pub(1)); !errors.Is(err, errQueueFull) {
		t.Fatalf("a publication past the limit: %v, want errQueueFull", err)
	}
	if err := o.push(outItem{kind: outWatch, topic: "t"}); err != nil {
		t.Fatalf("a watch past the limit: %v", err)
	}
	batch, ok := o.take()
	if !ok || len(batch) != 2 || batch[0].kind != outPublish || batch[1].kind != outWatch {
		t.Fatalf("take = %v, %v; want the publication and the watch, in order", batch, ok)
	}
	o.recycle(batch)
	if err := o.push(pub(10)); err != nil {
		t.Fatalf("a publication within the limit after take: %v", err)
	}
	o.close()
	if err := o.push(pub(1)); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("push after close: %v, want ErrClosed", err)
	}
	if batch, ok := o.take(); !ok || len(batch) != 1 {
		t.Errorf("take after close = %d items, %v; want the one queued before", len(batch), ok)
	}
	if _, ok := o.take(); ok {
		t.Error("take on a closed, empty outbox reported ok")
	}
}
