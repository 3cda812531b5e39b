package nats

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// samples are messages as adapters carry them.
func samples() map[string]*pubsub.Message {
	return map[string]*pubsub.Message{
		"json":         {Origin: "node-1", Topic: "room:1", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))},
		"binary":       {Origin: "node-1", Topic: "room:1", Event: "blob", Payload: protocol.Binary([]byte{0, 1, 2, 0xfe, 0xff})},
		"zero-payload": {Origin: "n", Topic: "t", Event: "e"},
		"empty-binary": {Origin: "n", Topic: "", Event: "", Payload: protocol.Binary(nil)},
		"odd-names":    {Origin: "nœud é.*>", Topic: "a.b *> \t\n\x00|🔥", Event: "e.v *>\x00", Payload: protocol.JSON([]byte(`{"k":"\u0000"}`))},
		"long-names":   {Origin: strings.Repeat("o", 300), Topic: strings.Repeat("t", 200), Event: strings.Repeat("e", 128), Payload: protocol.JSON([]byte(`[]`))},
		"1MiB":         {Origin: "n", Topic: "big", Event: "big", Payload: protocol.Binary(bytes.Repeat([]byte{0xab}, 1<<20))},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	for name, m := range samples() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := encodeMessage(m)
			if len(b) != encodedSize(m) || cap(b) != len(b) {
				t.Errorf("encoding is %d bytes (capacity %d), encodedSize says %d", len(b), cap(b), encodedSize(m))
			}
			got, err := decodeMessage(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.Origin != m.Origin || got.Topic != m.Topic || got.Event != m.Event {
				t.Errorf("got origin %q topic %q event %q, want %q %q %q", got.Origin, got.Topic, got.Event, m.Origin, m.Topic, m.Event)
			}
			if got.Payload.IsBinary() != m.Payload.IsBinary() || !bytes.Equal(got.Payload.Bytes(), m.Payload.Bytes()) {
				t.Errorf("got payload %.40q (binary %v), want %.40q (binary %v)",
					got.Payload.Bytes(), got.Payload.IsBinary(), m.Payload.Bytes(), m.Payload.IsBinary())
			}
			if p := got.Payload.Bytes(); cap(p) != len(p) {
				t.Errorf("the decoded payload has capacity %d for %d bytes: an append would write into the buffer", cap(p), len(p))
			}
			if got.From != nil {
				t.Error("a decoded message has From set")
			}
		})
	}
}

// The encoding is a copy: changing the payload afterwards changes nothing.
func TestEncodeCopies(t *testing.T) {
	t.Parallel()
	p := []byte(`{"a":1}`)
	b := encodeMessage(&pubsub.Message{Origin: "n", Topic: "t", Event: "e", Payload: protocol.JSON(p)})
	p[2] = 'X'
	m, err := decodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload.Bytes()) != `{"a":1}` {
		t.Errorf("payload %q, want the original", m.Payload.Bytes())
	}
}

func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	valid := encodeMessage(&pubsub.Message{Origin: "n", Topic: "t", Event: "e", Payload: protocol.JSON([]byte(`{}`))})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"one-byte", []byte{wireVersion}},
		{"version-0", append([]byte{0}, valid[1:]...)},
		{"version-2", append([]byte{2}, valid[1:]...)},
		{"unknown-flag", append([]byte{wireVersion, 2}, valid[2:]...)},
		{"high-flag", append([]byte{wireVersion, 0x81}, valid[2:]...)},
		{"no-fields", []byte{wireVersion, 0}},
		{"truncated-varint", []byte{wireVersion, 0, 0x80}},
		{"overflowing-varint", []byte{wireVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"non-minimal-varint", []byte{wireVersion, 0, 0x81, 0x00, 'n', 1, 't', 1, 'e', 0}},
		{"absurd-length", []byte{wireVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'n'}},
		{"length-past-end", []byte{wireVersion, 0, 5, 'n', 'o'}},
		{"payload-past-end", append(bytes.Clone(valid[:len(valid)-3]), 9, '{', '}')},
		{"trailing-byte", append(bytes.Clone(valid), 0)},
		{"empty-origin", []byte{wireVersion, 0, 0, 1, 't', 1, 'e', 0}},
		{"empty-json", []byte{wireVersion, 0, 1, 'n', 1, 't', 1, 'e', 0}},
		{"not-ours", []byte(`{"topic":"room","event":"e"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := decodeMessage(tc.b)
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decode(%q) = %+v, %v; want errMalformed", tc.b, m, err)
			}
		})
	}
	for i := range len(valid) {
		if _, err := decodeMessage(valid[:i]); !errors.Is(err, errMalformed) {
			t.Errorf("decode of the first %d bytes of %d: %v, want errMalformed", i, len(valid), err)
		}
	}
}

// FuzzDecode: decode never panics; what it accepts is exactly the
// encoding of the message it returns, and no strict prefix of it decodes.
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		if len(m.Payload.Bytes()) < 1<<10 {
			f.Add(encodeMessage(m))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{wireVersion, flagBinary, 0x80})
	f.Add([]byte{wireVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decode error %v does not wrap errMalformed", err)
			}
			return
		}
		if got := encodeMessage(m); !bytes.Equal(got, b) {
			t.Fatalf("decode(%q) encodes back to %q", b, got)
		}
		if len(b) <= 1<<10 {
			for i := range len(b) {
				if _, err := decodeMessage(b[:i]); err == nil {
					t.Fatalf("the first %d bytes of %q decode", i, b)
				}
			}
		}
	})
}

// FuzzRoundTrip: any message with an origin survives encoding.
func FuzzRoundTrip(f *testing.F) {
	f.Add("node", "room:1", "new_msg", []byte(`{"a":1}`), false)
	f.Add("n.*>", "a b\x00", "", []byte{0, 1}, true)
	f.Fuzz(func(t *testing.T, origin, topic, event string, payload []byte, binary bool) {
		if origin == "" {
			return // The PubSub always sets Origin.
		}
		p := protocol.JSON(payload)
		if binary {
			p = protocol.Binary(payload)
		}
		m := &pubsub.Message{Origin: origin, Topic: topic, Event: event, Payload: p}
		got, err := decodeMessage(encodeMessage(m))
		if err != nil {
			t.Fatal(err)
		}
		if got.Origin != origin || got.Topic != topic || got.Event != event ||
			got.Payload.IsBinary() != binary || !bytes.Equal(got.Payload.Bytes(), p.Bytes()) {
			t.Fatalf("round trip of %+v gave %+v", m, got)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	m := &pubsub.Message{Origin: "node-1", Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON(bytes.Repeat([]byte("x"), 1024))}
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeMessage(m)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := encodeMessage(&pubsub.Message{Origin: "node-1", Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON(bytes.Repeat([]byte("x"), 1024))})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeMessage(data); err != nil {
			b.Fatal(err)
		}
	}
}
