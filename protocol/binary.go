package protocol

import (
	"cmp"
	"fmt"
	"strings"
	"unicode/utf8"
)

// V2 binary frames (docs/protocol.md, "V2 binary frames"). Every header field is prefixed by
// its length in one byte, so it holds at most 255 bytes; the payload is
// the rest of the frame.

// Binary frame kinds.
const (
	kindPush      = 0
	kindReply     = 1
	kindBroadcast = 2
)

const maxField = 255

// decodeBinary decodes a client push, the only binary frame a client
// sends: kind 0, lengths of join_ref, ref, topic and event, the four
// fields, then the payload. The refs become string refs; an empty ref is
// the empty string "", not null, as in Phoenix.
func decodeBinary(data []byte) (Message, error) {
	if len(data) == 0 {
		return Message{}, fmt.Errorf("%w: empty binary frame", ErrInvalidMessage)
	}
	if data[0] != kindPush {
		return Message{}, fmt.Errorf("%w %d", ErrUnknownBinaryKind, data[0])
	}
	if len(data) < 5 {
		return Message{}, errTruncated
	}
	j, r, t, e := int(data[1]), int(data[2]), int(data[3]), int(data[4])
	n := 5 + j + r + t + e
	if len(data) < n {
		return Message{}, errTruncated
	}
	// One string holds the quoted refs, the topic and the event: a
	// single allocation for the whole header.
	jr, ref := data[5:5+j], data[5+j:5+j+r]
	var sb strings.Builder
	sb.Grow(n - 5 + 4)
	writeQuoted(&sb, jr)
	jrEnd := sb.Len()
	writeQuoted(&sb, ref)
	refEnd := sb.Len()
	sb.Write(data[5+j+r : n])
	header := sb.String()
	m := Message{
		JoinRef: Ref(header[:jrEnd]),
		Ref:     Ref(header[jrEnd:refEnd]),
		Topic:   header[refEnd : refEnd+t],
		Event:   header[refEnd+t:],
		Payload: Binary(data[n:len(data):len(data)]),
	}
	return m, nil
}

// writeQuoted writes b as a JSON string, the text of StringRef(string(b)).
func writeQuoted(sb *strings.Builder, b []byte) {
	for _, c := range b {
		if c < ' ' || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			sb.Write(appendJSONString(nil, string(b)))
			return
		}
	}
	sb.WriteByte('"')
	sb.Write(b)
	sb.WriteByte('"')
}

var errTruncated = fmt.Errorf("%w: truncated binary frame", ErrInvalidMessage)

// checkField returns ErrFieldTooLong if the header field s does not fit
// its one-byte length.
func checkField(name, s string) error {
	if len(s) > maxField {
		return fmt.Errorf("%w: %s has %d bytes", ErrFieldTooLong, name, len(s))
	}
	return nil
}

// appendBinaryPush appends a server push: kind 0, lengths of join_ref,
// topic and event, the three fields, the payload. There is no ref.
func appendBinaryPush(dst []byte, m *Message) ([]byte, bool, error) {
	jr := m.JoinRef.String()
	if err := cmp.Or(checkField("join_ref", jr), checkField("topic", m.Topic), checkField("event", m.Event)); err != nil {
		return dst, false, err
	}
	dst = append(dst, kindPush, byte(len(jr)), byte(len(m.Topic)), byte(len(m.Event)))
	dst = append(dst, jr...)
	dst = append(dst, m.Topic...)
	dst = append(dst, m.Event...)
	return append(dst, m.Payload.Bytes()...), true, nil
}

// appendBinaryReply appends a reply: kind 1, lengths of join_ref, ref,
// topic and status, the four fields, the response.
func appendBinaryReply(dst []byte, r *Reply) ([]byte, bool, error) {
	jr, ref := r.JoinRef.String(), r.Ref.String()
	if err := cmp.Or(checkField("join_ref", jr), checkField("ref", ref),
		checkField("topic", r.Topic), checkField("status", r.Status)); err != nil {
		return dst, false, err
	}
	dst = append(dst, kindReply, byte(len(jr)), byte(len(ref)), byte(len(r.Topic)), byte(len(r.Status)))
	dst = append(dst, jr...)
	dst = append(dst, ref...)
	dst = append(dst, r.Topic...)
	dst = append(dst, r.Status...)
	return append(dst, r.Response.Bytes()...), true, nil
}

// appendBinaryBroadcast appends a broadcast: kind 2, lengths of topic and
// event, the two fields, the payload.
func appendBinaryBroadcast(dst []byte, topic, event string, p Payload) ([]byte, bool, error) {
	if err := cmp.Or(checkField("topic", topic), checkField("event", event)); err != nil {
		return dst, false, err
	}
	dst = append(dst, kindBroadcast, byte(len(topic)), byte(len(event)))
	dst = append(dst, topic...)
	dst = append(dst, event...)
	return append(dst, p.Bytes()...), true, nil
}
