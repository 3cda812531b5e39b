package protocol

import "fmt"

// The V1 serializer (vsn 1.0.x): text frames holding a JSON object
// {"topic":..,"event":..,"payload":..,"ref":..}. It never sends join_ref
// and cannot carry binary payloads.

func appendV1Message(dst []byte, m *Message) ([]byte, bool, error) {
	if m.Payload.IsBinary() {
		return dst, false, ErrBinaryNotSupported
	}
	return appendV1(dst, m.Topic, m.TopicJSON, m.Event, m.Payload.Bytes(), m.Ref), false, nil
}

func appendV1Reply(dst []byte, r *Reply) ([]byte, bool, error) {
	if r.Response.IsBinary() {
		return dst, false, ErrBinaryNotSupported
	}
	dst = append(dst, `{"topic":`...)
	dst = appendTopic(dst, r.Topic, r.TopicJSON)
	dst = append(dst, `,"event":"`+EventReply+`","payload":`...)
	dst = appendReplyPayload(dst, r)
	dst = append(dst, `,"ref":`...)
	dst = appendRef(dst, r.Ref)
	return append(dst, '}'), false, nil
}

func appendV1Broadcast(dst []byte, topic, event string, p Payload) ([]byte, bool, error) {
	if p.IsBinary() {
		return dst, false, ErrBinaryNotSupported
	}
	return appendV1(dst, topic, false, event, p.Bytes(), Null), false, nil
}

func appendV1(dst []byte, topic string, topicJSON bool, event string, payload []byte, ref Ref) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendTopic(dst, topic, topicJSON)
	dst = append(dst, `,"event":`...)
	dst = appendJSONString(dst, event)
	dst = append(dst, `,"payload":`...)
	dst = append(dst, payload...)
	dst = append(dst, `,"ref":`...)
	dst = appendRef(dst, ref)
	return append(dst, '}')
}

// V1 object keys, as bits of a "seen" mask.
const (
	keyTopic = 1 << iota
	keyEvent
	keyPayload
	keyRef
	keyJoinRef
	keysRequired = keyTopic | keyEvent | keyPayload | keyRef
)

// decodeV1 decodes a V1 JSON object. topic, event, payload and ref are
// required (ref may be null), join_ref is optional, other keys are
// ignored; a repeated key takes its last value, as in encoding/json and
// Jason. Like decodeV2Text it copies the header fields into one string and
// keeps the payload as a subslice of data.
func decodeV1(data []byte) (Message, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return Message{}, fmt.Errorf("%w: v1 frame is not a JSON object", ErrInvalidMessage)
	}
	var (
		seen       int
		start, end [5]int // value offsets, indexed by key bit number
		lo, hi     = len(data), 0
	)
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return Message{}, errBadJSON
			}
			keyStart := i
			if i, _ = scanString(data, i); i < 0 {
				return Message{}, errBadJSON
			}
			key := v1Key(data[keyStart:i])
			i = skipSpace(data, i)
			if i >= len(data) || data[i] != ':' {
				return Message{}, errBadJSON
			}
			i = skipSpace(data, i+1)
			vStart := i
			if i = skipValue(data, i, 1); i < 0 {
				return Message{}, errBadJSON
			}
			if key != 0 {
				seen |= key
				k := bitIndex(key)
				start[k], end[k] = vStart, i
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return Message{}, errBadJSON
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return Message{}, errBadJSON
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return Message{}, errBadJSON
	}
	if missing := keysRequired &^ seen; missing != 0 {
		return Message{}, fmt.Errorf("%w: v1 object has no %q key", ErrInvalidMessage, v1KeyName(missing&-missing))
	}

	// Copy the span of the header values (everything but the payload,
	// unless the payload sits between them) into one string.
	for k := range 5 {
		if k != bitIndex(keyPayload) && seen&(1<<k) != 0 {
			lo, hi = min(lo, start[k]), max(hi, end[k])
		}
	}
	header := string(data[lo:hi])
	field := func(key int) string {
		k := bitIndex(key)
		return header[start[k]-lo : end[k]-lo]
	}
	var m Message
	var ok bool
	if m.Topic, m.TopicJSON, ok = textField(field(keyTopic)); !ok {
		return Message{}, errBadJSON
	}
	if m.Event, _, ok = textField(field(keyEvent)); !ok {
		return Message{}, errBadJSON
	}
	m.Ref = rawRef(field(keyRef))
	if seen&keyJoinRef != 0 {
		m.JoinRef = rawRef(field(keyJoinRef))
	}
	p := bitIndex(keyPayload)
	m.Payload = JSON(data[start[p]:end[p]:end[p]])
	return m, nil
}

// v1Key returns the key bit for the JSON string literal lit, or 0 for a
// key V1 ignores. A key spelled with escapes ("top\u0069c") is the same
// key.
func v1Key(lit []byte) int {
	name := lit[1 : len(lit)-1]
	for _, c := range name {
		if c == '\\' {
			s, _ := unquote(string(lit))
			return v1KeyOf(s)
		}
	}
	return v1KeyOf(string(name))
}

func v1KeyOf(name string) int {
	switch name {
	case "topic":
		return keyTopic
	case "event":
		return keyEvent
	case "payload":
		return keyPayload
	case "ref":
		return keyRef
	case "join_ref":
		return keyJoinRef
	}
	return 0
}

func v1KeyName(key int) string {
	switch key {
	case keyTopic:
		return "topic"
	case keyEvent:
		return "event"
	case keyPayload:
		return "payload"
	case keyRef:
		return "ref"
	}
	return "join_ref"
}

// bitIndex returns the index of the single set bit of key.
func bitIndex(key int) int {
	n := 0
	for key > 1 {
		key >>= 1
		n++
	}
	return n
}
