package redis_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub/redis"
)

var roundTrips = []struct {
	name string
	e    redis.Envelope
}{
	{"json", redis.Envelope{Origin: "node-a", Topic: "room:1", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hi"}`))}},
	{"binary", redis.Envelope{Origin: "node-a", Topic: "room:1", Event: "blob", Payload: protocol.Binary([]byte{0, 1, 0xff, '{'})}},
	{"direct", redis.Envelope{Origin: "node-a", To: "node-b", Topic: "phx_presence:pyre", Event: "transfer_ack", Payload: protocol.JSON([]byte(`{"seq":3}`))}},
	{"empty-json", redis.Envelope{Origin: "a", Topic: "t", Event: "e"}},
	{"empty-binary", redis.Envelope{Origin: "a", Topic: "t", Event: "e", Payload: protocol.Binary(nil)}},
	{"empty-names", redis.Envelope{Origin: "a", Payload: protocol.JSON([]byte(`[]`))}},
	{"special", redis.Envelope{Origin: "n\x00é", To: "ルーム🔥", Topic: "a.b *> ?\x00\n", Event: "e.v\t", Payload: protocol.Binary([]byte("\x00\x00"))}},
	{"long-fields", redis.Envelope{Origin: strings.Repeat("o", 300), Topic: strings.Repeat("t", 70_000), Event: strings.Repeat("e", 128), Payload: protocol.JSON(bytes.Repeat([]byte("x"), 1<<20))}},
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	var c redis.BinaryCodec
	for _, tc := range roundTrips {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.Encode([]byte("kept"), &tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("kept")) {
				t.Fatal("Encode did not append to dst")
			}
			got, err := c.Decode(data[4:])
			if err != nil {
				t.Fatal(err)
			}
			sameEnvelope(t, got, tc.e)
		})
	}
}

func sameEnvelope(t *testing.T, got, want redis.Envelope) {
	t.Helper()
	if got.Origin != want.Origin || got.To != want.To || got.Topic != want.Topic || got.Event != want.Event {
		t.Errorf("got origin %.20q to %.20q topic %.20q event %.20q, want %.20q %.20q %.20q %.20q",
			got.Origin, got.To, got.Topic, got.Event, want.Origin, want.To, want.Topic, want.Event)
	}
	if got.Payload.IsBinary() != want.Payload.IsBinary() || !bytes.Equal(got.Payload.Bytes(), want.Payload.Bytes()) {
		t.Errorf("got payload binary=%v %.20q, want binary=%v %.20q",
			got.Payload.IsBinary(), got.Payload.Bytes(), want.Payload.IsBinary(), want.Payload.Bytes())
	}
}

func TestCodecChannels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c           redis.BinaryCodec
		topic, node string
	}{
		{redis.BinaryCodec{}, "pyre:t:room:1", "pyre:n:node-a"},
		{redis.BinaryCodec{Prefix: "app2"}, "app2:t:room:1", "app2:n:node-a"},
	} {
		if got := tc.c.TopicChannel("room:1"); got != tc.topic {
			t.Errorf("TopicChannel = %q, want %q", got, tc.topic)
		}
		if got := tc.c.NodeChannel("node-a"); got != tc.node {
			t.Errorf("NodeChannel = %q, want %q", got, tc.node)
		}
	}
}

func TestCodecEncodeRefusesNoOrigin(t *testing.T) {
	t.Parallel()
	if _, err := (redis.BinaryCodec{}).Encode(nil, &redis.Envelope{Topic: "t"}); err == nil {
		t.Fatal("Encode of a message without Origin succeeded")
	}
}

// Decode refuses hostile input with ErrInvalidMessage, without panicking
// or allocating what a length claims.
func TestCodecDecodeHostile(t *testing.T) {
	t.Parallel()
	huge := binary.AppendUvarint(nil, 1<<62)
	overflow := bytes.Repeat([]byte{0xff}, 11)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short", []byte{'p', 1}},
		{"wrong-magic", []byte{'x', 1, 0, 1, 'a', 0, 0}},
		{"wrong-version", []byte{'p', 2, 0, 1, 'a', 0, 0}},
		{"unknown-flags", []byte{'p', 1, 0x80, 1, 'a', 0, 0}},
		{"no-origin-length", []byte{'p', 1, 0}},
		{"empty-origin", []byte{'p', 1, 0, 0, 0, 0}},
		{"empty-to", []byte{'p', 1, 2, 1, 'a', 0, 0, 0}},
		{"huge-length", append([]byte{'p', 1, 0}, huge...)},
		{"huge-topic-length", append([]byte{'p', 1, 0, 1, 'a'}, huge...)},
		{"length-overflow", append([]byte{'p', 1, 0}, overflow...)},
		{"length-past-end", []byte{'p', 1, 0, 5, 'a', 'b'}},
		{"missing-event", []byte{'p', 1, 0, 1, 'a', 1, 't'}},
		{"direct-missing-to", []byte{'p', 1, 2, 1, 'a'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (redis.BinaryCodec{}).Decode(tc.data)
			if !errors.Is(err, redis.ErrInvalidMessage) {
				t.Fatalf("Decode(%q): %v, want ErrInvalidMessage", tc.data, err)
			}
		})
	}
}

// Every proper prefix of a message shorter than its header and names is
// refused; longer ones decode with a shorter payload.
func TestCodecDecodeTruncated(t *testing.T) {
	t.Parallel()
	var c redis.BinaryCodec
	e := redis.Envelope{Origin: "node-a", To: "node-b", Topic: "room:1", Event: "ev", Payload: protocol.JSON([]byte(`{"a":1}`))}
	data, err := c.Encode(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	header := len(data) - len(e.Payload.Bytes())
	for n := range len(data) {
		got, err := c.Decode(data[:n])
		switch {
		case n < header && !errors.Is(err, redis.ErrInvalidMessage):
			t.Errorf("Decode of the first %d bytes: %v, want ErrInvalidMessage", n, err)
		case n >= header && err != nil:
			t.Errorf("Decode of the first %d bytes: %v", n, err)
		case n >= header && !bytes.Equal(got.Payload.Bytes(), protocol.JSON(data[header:n]).Bytes()):
			t.Errorf("Decode of the first %d bytes: payload %q", n, got.Payload.Bytes())
		}
	}
}

// FuzzDecode: Decode never panics, and what it accepts encodes back to the
// same bytes.
func FuzzDecode(f *testing.F) {
	var c redis.BinaryCodec
	for _, tc := range roundTrips[:7] {
		data, err := c.Encode(nil, &tc.e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{'p', 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{'p', 1, 3, 1, 'a', 1, 'b', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := c.Decode(data)
		if err != nil {
			if !errors.Is(err, redis.ErrInvalidMessage) {
				t.Fatalf("Decode error %v does not wrap ErrInvalidMessage", err)
			}
			return
		}
		if e.Origin == "" {
			t.Fatal("Decode accepted a message without Origin")
		}
		again, err := c.Encode(nil, &e)
		if err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		if !bytes.Equal(again, data) {
			// Only a non-minimal varint length may differ.
			e2, err := c.Decode(again)
			if err != nil {
				t.Fatalf("Decode of the encoding of a decoded message: %v", err)
			}
			sameEnvelope(t, e2, e)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	var c redis.BinaryCodec
	e := redis.Envelope{Origin: "node-a", Topic: "room:lobby", Event: "new_msg", Payload: protocol.JSON([]byte(`{"body":"hello, world","user":"ann"}`))}
	data, err := c.Encode(nil, &e)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 128)
		for b.Loop() {
			buf, _ = c.Encode(buf[:0], &e)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.Decode(data)
		}
	})
}
