package protocol

import (
	"errors"
	"testing"
)

// The decoders are fuzzed with real frames as seeds. Each input is also
// decoded in two halves, as nats-server's FuzzParser does, since a
// transport may hand over a cut frame. A frame that decodes must re-encode
// and decode to the same fields.

var textSeeds = []string{
	`[null,"1","phoenix","heartbeat",{}]`,
	`["3","3","room:lobby","phx_join",{}]`,
	`["3","4","room:lobby","new_msg",{"body":"hi"}]`,
	`["3","5","room:lobby","phx_leave",{}]`,
	`[7,8,"t","e",{"a":[1,2.5e-3,true,null]},"extra"]`,
	`[null,null,"r\u00f6om\n","e\"",[1,"]"]]`,
	`{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`,
	`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}`,
	`{"top\u0069c":"t","event":"e","payload":"m","ref":null,"x":[{}]}`,
	`["5","1",123,"phx_join",{}]`,
	`{"topic":null,"event":[1],"payload":{},"ref":"1"}`,
}

var binarySeeds = [][]byte{
	hexBytes(0x00, 0x02, 0x03, 0x05, 0x05, "12", "123", "topic", "event", 101, 102, 103),
	hexBytes(0, 0, 0, 0, 0),
	hexBytes(0, 3, 1, 1, 1, "a\"b", "\n", "t", "e", 0xff),
	hexBytes(1, 2, 3, 5, 2, "12", "123", "topic", "ok", "efg"),
}

func halves(data []byte) [][]byte {
	n := len(data)
	return [][]byte{data, data[:n/2], data[n/2:]}
}

func FuzzV1Decode(f *testing.F) {
	for _, s := range textSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range halves(data) {
			m, err := V1.Decode(d, false)
			if err != nil {
				if !errors.Is(err, ErrInvalidMessage) {
					t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
				}
				continue
			}
			frame, _, err := V1.AppendMessage(nil, &m)
			if err != nil {
				t.Fatalf("re-encode %+v: %v", view(m), err)
			}
			m2, err := V1.Decode(frame, false)
			if err != nil {
				t.Fatalf("decode re-encoded %s: %v", frame, err)
			}
			want := view(m)
			want.JoinRef = "" // V1 never sends it
			if got := view(m2); got != want {
				t.Fatalf("round trip of %q:\n got %+v\nwant %+v", d, got, want)
			}
		}
	})
}

func FuzzV2Decode(f *testing.F) {
	for _, s := range textSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range halves(data) {
			m, err := V2.Decode(d, false)
			if err != nil {
				if !errors.Is(err, ErrInvalidMessage) {
					t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
				}
				continue
			}
			frame, binary, err := V2.AppendMessage(nil, &m)
			if !m.Payload.IsObject() {
				if !errors.Is(err, ErrPayloadNotObject) {
					t.Fatalf("re-encode non-object %+v: %v", view(m), err)
				}
				continue
			}
			if err != nil || binary {
				t.Fatalf("re-encode %+v: binary %v, %v", view(m), binary, err)
			}
			m2, err := V2.Decode(frame, false)
			if err != nil {
				t.Fatalf("decode re-encoded %s: %v", frame, err)
			}
			if got, want := view(m2), view(m); got != want {
				t.Fatalf("round trip of %q:\n got %+v\nwant %+v", d, got, want)
			}
		}
	})
}

func FuzzV2BinaryDecode(f *testing.F) {
	for _, b := range binarySeeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range halves(data) {
			m, err := V2.Decode(d, true)
			if err != nil {
				if !errors.Is(err, ErrInvalidMessage) {
					t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
				}
				continue
			}
			// Back out as a server push; as a client push it decodes
			// to the same fields. Refs are compared as strings: a ref
			// with invalid UTF-8 cannot survive JSON quoting byte for
			// byte, and may then outgrow its 255 bytes.
			_, binary, err := V2.AppendMessage(nil, &m)
			if errors.Is(err, ErrFieldTooLong) || len(m.Ref.String()) > maxField {
				continue
			}
			if err != nil || !binary {
				t.Fatalf("re-encode %+v: binary %v, %v", view(m), binary, err)
			}
			frame := appendClientPush(nil, &m)
			m2, err := V2.Decode(frame, true)
			if err != nil {
				t.Fatalf("decode re-encoded % x: %v", frame, err)
			}
			got, want := view(m2), view(m)
			got.JoinRef, got.Ref = m2.JoinRef.String(), m2.Ref.String()
			want.JoinRef, want.Ref = m.JoinRef.String(), m.Ref.String()
			if got != want {
				t.Fatalf("round trip of % x:\n got %+v\nwant %+v", d, got, want)
			}
		}
	})
}
