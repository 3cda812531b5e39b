package protocol

import "fmt"

// The V2 serializer (vsn 2.0.x): JSON array text frames
// [join_ref, ref, topic, event, payload] and, for binary payloads, the
// binary frames of binary.go.

func appendV2Message(dst []byte, m *Message) ([]byte, bool, error) {
	if m.Payload.IsBinary() {
		return appendBinaryPush(dst, m)
	}
	if !m.Payload.IsObject() {
		return dst, false, fmt.Errorf("%w: %s event %q", ErrPayloadNotObject, m.Topic, m.Event)
	}
	dst = append(dst, '[')
	dst = appendRef(dst, m.JoinRef)
	dst = append(dst, ',')
	dst = appendRef(dst, m.Ref)
	dst = append(dst, ',')
	dst = appendTopic(dst, m.Topic, m.TopicJSON)
	dst = append(dst, ',')
	dst = appendJSONString(dst, m.Event)
	dst = append(dst, ',')
	dst = append(dst, m.Payload.Bytes()...)
	return append(dst, ']'), false, nil
}

func appendV2Reply(dst []byte, r *Reply) ([]byte, bool, error) {
	if r.Response.IsBinary() {
		return appendBinaryReply(dst, r)
	}
	dst = append(dst, '[')
	dst = appendRef(dst, r.JoinRef)
	dst = append(dst, ',')
	dst = appendRef(dst, r.Ref)
	dst = append(dst, ',')
	dst = appendTopic(dst, r.Topic, r.TopicJSON)
	dst = append(dst, `,"`+EventReply+`",`...)
	dst = appendReplyPayload(dst, r)
	return append(dst, ']'), false, nil
}

func appendV2Broadcast(dst []byte, topic, event string, p Payload) ([]byte, bool, error) {
	if p.IsBinary() {
		return appendBinaryBroadcast(dst, topic, event, p)
	}
	if !p.IsObject() {
		return dst, false, fmt.Errorf("%w: %s event %q", ErrPayloadNotObject, topic, event)
	}
	dst = append(dst, "[null,null,"...)
	dst = appendJSONString(dst, topic)
	dst = append(dst, ',')
	dst = appendJSONString(dst, event)
	dst = append(dst, ',')
	dst = append(dst, p.Bytes()...)
	return append(dst, ']'), false, nil
}

// decodeV2Text decodes [join_ref, ref, topic, event, payload, ...].
//
// It scans the frame once. The header (refs, topic, event) is copied into
// one string, and the fields are substrings of it unless they hold escapes;
// the payload is a subslice of data. A typical push costs one allocation.
func decodeV2Text(data []byte) (Message, error) {
	var m Message
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return m, fmt.Errorf("%w: v2 text frame is not a JSON array", ErrInvalidMessage)
	}
	// Offsets of the five elements: start[k] to end[k].
	var start, end [5]int
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return m, errShortArray(0)
	}
	for k := range 5 {
		start[k] = i
		i = skipValue(data, i, 1)
		if i < 0 {
			return m, errBadJSON
		}
		end[k] = i
		i = skipSpace(data, i)
		if i >= len(data) {
			return m, errBadJSON
		}
		if data[i] == ']' {
			if k < 4 {
				return m, errShortArray(k + 1)
			}
			break
		}
		if data[i] != ',' {
			return m, errBadJSON
		}
		i = skipSpace(data, i+1)
		if k == 4 {
			// Extra elements are ignored, but must be valid JSON.
			if i = skipArrayTail(data, i); i < 0 {
				return m, errBadJSON
			}
			i--
		}
	}
	if skipSpace(data, i+1) != len(data) {
		return m, errBadJSON
	}

	base := start[0]
	header := string(data[base:start[4]])
	field := func(k int) string { return header[start[k]-base : end[k]-base] }
	m.JoinRef = rawRef(field(0))
	m.Ref = rawRef(field(1))
	var ok bool
	if m.Topic, m.TopicJSON, ok = textField(field(2)); !ok {
		return Message{}, errBadJSON
	}
	if m.Event, _, ok = textField(field(3)); !ok {
		return Message{}, errBadJSON
	}
	m.Payload = JSON(data[start[4]:end[4]:end[4]])
	return m, nil
}

// skipArrayTail skips the elements after ", " in an array up to and
// including the closing bracket. i is at the first element.
func skipArrayTail(data []byte, i int) int {
	for {
		if i = skipValue(data, i, 1); i < 0 {
			return -1
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return -1
		}
		switch data[i] {
		case ']':
			return i + 1
		case ',':
			i = skipSpace(data, i+1)
		default:
			return -1
		}
	}
}

var errBadJSON = fmt.Errorf("%w: malformed JSON", ErrInvalidMessage)

func errShortArray(n int) error {
	return fmt.Errorf("%w: v2 array has %d elements, want at least 5", ErrInvalidMessage, n)
}

// rawRef turns the JSON text of a ref into a Ref, with null as Null.
func rawRef(s string) Ref {
	if s == "null" {
		return Null
	}
	return Ref(s)
}
