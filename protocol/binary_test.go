package protocol

import (
	"bytes"
	"strings"
	"testing"
)

// docs/protocol.md, "V2 binary frames" worked examples and §10.9 #115-#121. The payload bytes
// 101,102,103 are "efg".

func TestBinaryEncode(t *testing.T) {
	t.Parallel()
	efg := Binary([]byte("efg"))
	tests := []struct {
		name   string
		encode func([]byte) ([]byte, bool, error)
		want   []byte
	}{
		{
			name: "10.9 #115 server push",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendMessage(dst, &Message{JoinRef: StringRef("12"), Ref: StringRef("123"), Topic: "topic", Event: "event", Payload: efg})
			},
			want: hexBytes(0x00, 0x02, 0x05, 0x05, "12", "topic", "event", 101, 102, 103),
		},
		{
			name: "10.9 #117 reply",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendReply(dst, &Reply{JoinRef: StringRef("12"), Ref: StringRef("123"), Topic: "topic", Status: "ok", Response: efg})
			},
			want: hexBytes(0x01, 0x02, 0x03, 0x05, 0x02, "12", "123", "topic", "ok", 101, 102, 103),
		},
		{
			name: "10.9 #119 fastlane broadcast",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendBroadcast(dst, "topic", "event", efg)
			},
			want: hexBytes(0x02, 0x05, 0x05, "topic", "event", 101, 102, 103),
		},
		{
			name: "null join_ref has length 0, numeric ref is its text",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendReply(dst, &Reply{Ref: "7", Topic: "t", Status: "ok", Response: Binary(nil)})
			},
			want: hexBytes(0x01, 0x00, 0x01, 0x01, 0x02, "7", "t", "ok"),
		},
		{
			name: "escaped string ref is unquoted",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendMessage(dst, &Message{JoinRef: `"a\"b"`, Topic: "t", Event: "e", Payload: Binary([]byte{0, 255})})
			},
			want: hexBytes(0x00, 0x03, 0x01, 0x01, `a"b`, "t", "e", 0, 255),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, binary, err := tc.encode([]byte("prefix"))
			success(t, err)
			equal(t, "binary", binary, true)
			if want := append([]byte("prefix"), tc.want...); !bytes.Equal(got, want) {
				t.Fatalf("frame\n got % x\nwant % x", got, want)
			}
		})
	}
}

// 10.9 #116, #118, #120: header fields longer than 255 bytes.
func TestBinaryEncodeTooLong(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 256)
	fits := strings.Repeat("a", 255)
	p := Binary([]byte("efg"))
	tests := []struct {
		name   string
		encode func([]byte) ([]byte, bool, error)
	}{
		{"push topic", func(d []byte) ([]byte, bool, error) {
			return V2.AppendMessage(d, &Message{Topic: long, Event: "e", Payload: p})
		}},
		{"push event", func(d []byte) ([]byte, bool, error) {
			return V2.AppendMessage(d, &Message{Topic: "t", Event: long, Payload: p})
		}},
		{"push join_ref", func(d []byte) ([]byte, bool, error) {
			return V2.AppendMessage(d, &Message{JoinRef: StringRef(long), Topic: "t", Event: "e", Payload: p})
		}},
		{"reply join_ref", func(d []byte) ([]byte, bool, error) {
			return V2.AppendReply(d, &Reply{JoinRef: StringRef(long), Topic: "t", Status: "ok", Response: p})
		}},
		{"reply ref", func(d []byte) ([]byte, bool, error) {
			return V2.AppendReply(d, &Reply{Ref: StringRef(long), Topic: "t", Status: "ok", Response: p})
		}},
		{"reply topic", func(d []byte) ([]byte, bool, error) {
			return V2.AppendReply(d, &Reply{Topic: long, Status: "ok", Response: p})
		}},
		{"reply status", func(d []byte) ([]byte, bool, error) {
			return V2.AppendReply(d, &Reply{Topic: "t", Status: long, Response: p})
		}},
		{"broadcast topic", func(d []byte) ([]byte, bool, error) {
			return V2.AppendBroadcast(d, long, "e", p)
		}},
		{"broadcast event", func(d []byte) ([]byte, bool, error) {
			return V2.AppendBroadcast(d, "t", long, p)
		}},
		{"multi-byte topic counts bytes", func(d []byte) ([]byte, bool, error) {
			return V2.AppendBroadcast(d, strings.Repeat("é", 128), "e", p)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := tc.encode([]byte("keep"))
			errorIs(t, err, ErrFieldTooLong)
			equal(t, "dst", string(got), "keep")
		})
	}
	t.Run("255 bytes fit", func(t *testing.T) {
		t.Parallel()
		got, _, err := V2.AppendReply(nil, &Reply{JoinRef: StringRef(fits), Ref: StringRef(fits), Topic: fits, Status: fits, Response: p})
		success(t, err)
		equal(t, "length", len(got), 5+4*255+3)
	})
}

func TestBinaryDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want msg
	}{
		{
			name: "10.9 #121 client push",
			in:   hexBytes(0x00, 0x02, 0x03, 0x05, 0x05, "12", "123", "topic", "event", 101, 102, 103),
			want: msg{JoinRef: `"12"`, Ref: `"123"`, Topic: "topic", Event: "event", Payload: "efg", Binary: true},
		},
		{
			name: "empty fields and payload",
			in:   hexBytes(0, 0, 0, 0, 0),
			want: msg{JoinRef: `""`, Ref: `""`, Binary: true},
		},
		{
			name: "refs needing escapes",
			in:   hexBytes(0, 3, 1, 1, 1, "a\"b", "\n", "t", "e", 0xff),
			want: msg{JoinRef: `"a\"b"`, Ref: `"\n"`, Topic: "t", Event: "e", Payload: "\xff", Binary: true},
		},
		{
			name: "non-ASCII fields are UTF-8 bytes",
			in:   hexBytes(0, 2, 0, 5, 1, "é", "café", "e"),
			want: msg{JoinRef: `"é"`, Ref: `""`, Topic: "café", Event: "e", Binary: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := V2.Decode(tc.in, true)
			success(t, err)
			equal(t, "message", view(m), tc.want)
		})
	}
}

func TestBinaryDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		kind bool // ErrUnknownBinaryKind
	}{
		{"empty", nil, false},
		{"kind only", []byte{0}, false},
		{"short header", []byte{0, 0, 0, 0}, false},
		{"truncated fields", hexBytes(0, 2, 3, 5, 5, "12", "123", "topic", "even"), false},
		{"lengths past the end", []byte{0, 255, 255, 255, 255, 'a'}, false},
		{"server push kind 1", hexBytes(1, 2, 3, 5, 2, "12", "123", "topic", "ok"), true},
		{"broadcast kind 2", hexBytes(2, 5, 5, "topic", "event"), true},
		{"kind 3", []byte{3, 0, 0, 0, 0}, true},
		{"text frame as binary", []byte(`[null,"1","phoenix","heartbeat",{}]`), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := V2.Decode(tc.in, true)
			errorIs(t, err, ErrInvalidMessage)
			if tc.kind {
				errorIs(t, err, ErrUnknownBinaryKind)
			}
		})
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	in := &Message{JoinRef: StringRef("12"), Ref: StringRef("123"), Topic: "topic", Event: "event", Payload: Binary([]byte("efg"))}
	m, err := V2.Decode(appendClientPush(nil, in), true)
	success(t, err)
	equal(t, "message", view(m), view(*in))
	// The decoded message goes back out as a server push.
	got, binary, err := V2.AppendMessage(nil, &m)
	success(t, err)
	equal(t, "binary", binary, true)
	equal(t, "frame", string(got), string(hexBytes(0, 2, 5, 5, "12", "topic", "event", "efg")))
}
