package pubsub_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// frameRec is a subscriber that encodes each message like a channel's fast
// lane does.
type frameRec struct {
	ser    protocol.Serializer
	frames []protocol.Frame
	err    error
}

func (r *frameRec) Deliver(m *pubsub.Message) {
	f, err := m.Frame(r.ser)
	r.frames = append(r.frames, f)
	r.err = err
}

// A broadcast is encoded once per serializer: every subscriber of a
// serializer gets the same bytes.
func TestFrameEncodedOncePerSerializer(t *testing.T) {
	t.Parallel()
	ps := newPubSub(t, nil)
	var v1s, v2s []*frameRec
	for range 50 {
		r1, r2 := &frameRec{ser: protocol.V1}, &frameRec{ser: protocol.V2}
		subscribe(t, ps, "t", r1)
		subscribe(t, ps, "t", r2)
		v1s, v2s = append(v1s, r1), append(v2s, r2)
	}
	_ = ps.LocalBroadcast(&pubsub.Message{Topic: "t", Event: "e", Payload: protocol.JSON([]byte(`{"a":1}`))})
	check := func(recs []*frameRec, want string) {
		t.Helper()
		first := recs[0].frames[0]
		if string(first.Data) != want || first.Binary || recs[0].err != nil {
			t.Fatalf("frame %s (binary %v, err %v), want %s", first.Data, first.Binary, recs[0].err, want)
		}
		for _, r := range recs {
			if len(r.frames) != 1 || &r.frames[0].Data[0] != &first.Data[0] {
				t.Fatal("subscribers do not share one encoded frame")
			}
		}
	}
	check(v1s, `{"topic":"t","event":"e","payload":{"a":1},"ref":null}`)
	check(v2s, `[null,null,"t","e",{"a":1}]`)
	if &v1s[0].frames[0].Data[0] == &v2s[0].frames[0].Data[0] {
		t.Fatal("V1 and V2 share a frame")
	}
}

func TestFrameConcurrent(t *testing.T) {
	t.Parallel()
	m := &pubsub.Message{Topic: "t", Event: "e", Payload: protocol.JSON([]byte(`{}`))}
	var wg sync.WaitGroup
	frames := make([]protocol.Frame, 64)
	for i := range frames {
		wg.Go(func() {
			s := protocol.V1
			if i%2 == 1 {
				s = protocol.V2
			}
			f, err := m.Frame(s)
			if err != nil {
				t.Error(err)
			}
			frames[i] = f
		})
	}
	wg.Wait()
	for i := 2; i < len(frames); i++ {
		if &frames[i].Data[0] != &frames[i%2].Data[0] {
			t.Fatalf("frame %d differs from frame %d", i, i%2)
		}
	}
}

func TestFrameErrorsAndBinary(t *testing.T) {
	t.Parallel()
	m := &pubsub.Message{Topic: "t", Event: "e", Payload: protocol.JSON([]byte(`[1]`))}
	if _, err := m.Frame(protocol.V2); !errors.Is(err, protocol.ErrPayloadNotObject) {
		t.Fatalf("V2 frame of an array: %v", err)
	}
	// The error is cached too, and does not affect the other serializer.
	if _, err := m.Frame(protocol.V2); !errors.Is(err, protocol.ErrPayloadNotObject) {
		t.Fatalf("second V2 frame of an array: %v", err)
	}
	if f, err := m.Frame(protocol.V1); err != nil || string(f.Data) != `{"topic":"t","event":"e","payload":[1],"ref":null}` {
		t.Fatalf("V1 frame = %s, %v", f.Data, err)
	}

	b := &pubsub.Message{Topic: "t", Event: "e", Payload: protocol.Binary([]byte{1, 2})}
	f, err := b.Frame(protocol.V2)
	if err != nil || !f.Binary || string(f.Data) != "\x02\x01\x01te\x01\x02" {
		t.Fatalf("V2 binary frame = % x (binary %v), %v", f.Data, f.Binary, err)
	}
	if _, err := b.Frame(protocol.V1); !errors.Is(err, protocol.ErrBinaryNotSupported) {
		t.Fatalf("V1 binary frame: %v", err)
	}

	// The zero Serializer, unless it is one of the two, is refused.
	var zero protocol.Serializer
	if zero != protocol.V1 && zero != protocol.V2 {
		if _, err := m.Frame(zero); err == nil {
			t.Fatal("Frame of the zero Serializer: no error")
		}
	}
}
