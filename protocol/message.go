package protocol

// Ref is a message reference (ref or join_ref) kept exactly as it appeared
// on the wire so that it can be echoed back with its JSON type: a JSON
// string keeps its quotes, a number stays a number. The zero Ref is null.
//
// Ref holds the JSON text of the value ("\"1\"", "12", ...). Refs that
// arrive in binary frames are strings and are stored quoted. Encoders copy
// the text unchecked, so build Refs with [StringRef] or take them from a
// decoded [Message].
type Ref string

// Null is the null ref.
const Null Ref = ""

// StringRef returns the Ref for the JSON string s.
func StringRef(s string) Ref { return Ref(appendJSONString(nil, s)) }

// IsNull reports whether r is null.
func (r Ref) IsNull() bool { return r == "" || r == "null" }

// String returns the ref as a Go string: the unquoted text of a JSON
// string ref, the JSON text of any other value, "" for null.
func (r Ref) String() string {
	if r.IsNull() {
		return ""
	}
	if s, ok := unquote(string(r)); ok {
		return s
	}
	return string(r)
}

// Payload is a message payload: either raw JSON text (any JSON value) or
// opaque binary bytes (V2 binary frames). The zero Payload, like any empty
// JSON payload, is the empty JSON object {} when encoded.
//
// A Payload does not copy the bytes it is given; callers must not modify
// them afterwards.
type Payload struct {
	data   []byte
	binary bool
}

// JSON returns a payload holding raw JSON text. The text is not validated.
func JSON(raw []byte) Payload { return Payload{data: raw} }

// Binary returns a binary payload. On V2 it makes the frame a binary frame.
func Binary(b []byte) Payload {
	if b == nil {
		b = []byte{}
	}
	return Payload{data: b, binary: true}
}

// IsBinary reports whether p is a binary payload.
func (p Payload) IsBinary() bool { return p.binary }

// Bytes returns the raw JSON text or the binary bytes. For the zero
// Payload, and any empty JSON payload, it returns "{}".
func (p Payload) Bytes() []byte {
	if len(p.data) == 0 && !p.binary {
		return emptyObject
	}
	return p.data
}

// IsObject reports whether p is a JSON object (what V2 requires of pushes
// and broadcasts).
func (p Payload) IsObject() bool {
	if p.binary {
		return false
	}
	b := p.Bytes()
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

var emptyObject = []byte("{}")

// Message is one Phoenix message: [join_ref, ref, topic, event, payload].
type Message struct {
	JoinRef Ref
	Ref     Ref
	Topic   string
	// TopicJSON reports that the topic arrived as a JSON value other than
	// a string (123, null, ...): Topic then holds its JSON text, and the
	// encoders write it back as it was sent. Phoenix does not check the
	// type; such a topic matches no channel and gets an "unmatched topic"
	// reply that echoes it. An event that is not a string is decoded the
	// same way, as its JSON text.
	TopicJSON bool
	Event     string
	Payload   Payload
}

// Reply is a phx_reply to the message with Ref: its payload on the wire is
// {"status": Status, "response": Response}. An empty Status is sent as
// null, as Phoenix sends a nil status; a zero Response is sent as {}.
type Reply struct {
	JoinRef Ref
	Ref     Ref
	Topic   string
	// TopicJSON writes Topic as JSON text rather than as a string: see
	// [Message.TopicJSON].
	TopicJSON bool
	Status    string
	Response  Payload
}

// Frame is one encoded WebSocket message. Frames handed to a transport are
// immutable: the same Frame (one broadcast encoding) is written to every
// subscriber that shares its serializer.
type Frame struct {
	Data   []byte
	Binary bool
}

// Reserved event and topic names.
const (
	EventJoin      = "phx_join"
	EventLeave     = "phx_leave"
	EventReply     = "phx_reply"
	EventError     = "phx_error"
	EventClose     = "phx_close"
	EventHeartbeat = "heartbeat"
	TopicPhoenix   = "phoenix"
)
