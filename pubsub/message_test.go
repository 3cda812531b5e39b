package pubsub_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// countingSerializer counts the broadcasts it encodes.
type countingSerializer struct {
	protocol.Serializer
	n atomic.Int32
}

func (s *countingSerializer) AppendBroadcast(dst []byte, topic, event string, p protocol.Payload) ([]byte, bool, error) {
	s.n.Add(1)
	return s.Serializer.AppendBroadcast(dst, topic, event, p)
}

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

func TestFrameEncodedOncePerSerializer(t *testing.T) {
	t.Parallel()
	ps := pubsub.NewLocal("")
	counting := &countingSerializer{Serializer: protocol.V1}
	var v1s, v2s []*frameRec
	for range 50 {
		r1, r2 := &frameRec{ser: counting}, &frameRec{ser: protocol.V2}
		ps.Subscribe("t", r1)
		ps.Subscribe("t", r2)
		v1s, v2s = append(v1s, r1), append(v2s, r2)
	}
	ps.LocalBroadcast(&pubsub.Message{Topic: "t", Event: "e", Payload: protocol.JSON([]byte(`{"a":1}`))})
	if n := counting.n.Load(); n != 1 {
		t.Fatalf("V1 broadcast encoded %d times for 50 subscribers, want 1", n)
	}
	check := func(recs []*frameRec, want string) {
		t.Helper()
		first := recs[0].frames[0]
		if string(first.Data) != want || first.Binary {
			t.Fatalf("frame %s (binary %v), want %s", first.Data, first.Binary, want)
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
	counting := &countingSerializer{Serializer: protocol.V1}
	var wg sync.WaitGroup
	frames := make([]protocol.Frame, 64)
	for i := range frames {
		wg.Go(func() {
			s := protocol.Serializer(counting)
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
	if n := counting.n.Load(); n != 1 {
		t.Fatalf("encoded %d times, want 1", n)
	}
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
}
