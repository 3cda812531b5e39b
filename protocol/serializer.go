package protocol

// Serializer encodes and decodes frames for one protocol version. The
// implementations are stateless and safe for concurrent use.
//
// The Append methods append the encoded frame to dst and return the
// extended slice and whether the frame must be sent as a binary WebSocket
// message. They never retain dst.
type Serializer interface {
	// Version is the serializer's vsn, "1.0.0" or "2.0.0".
	Version() string

	// Decode parses one inbound frame. binary is the WebSocket opcode
	// (true for a binary message). Decode may keep references into data
	// in the returned Message (the caller hands the buffer over).
	Decode(data []byte, binary bool) (Message, error)

	// AppendMessage encodes a push or a control message (phx_close,
	// phx_error): [join_ref, ref, topic, event, payload]. With V2 and a
	// binary payload it is a binary kind-0 push (the ref is dropped).
	// V2 refuses a JSON payload that is not an object (ErrPayloadNotObject).
	AppendMessage(dst []byte, m *Message) ([]byte, bool, error)

	// AppendReply encodes a phx_reply. With V2 and a binary response it is a
	// binary kind-1 reply.
	AppendReply(dst []byte, r *Reply) ([]byte, bool, error)

	// AppendBroadcast encodes a fastlane broadcast [null, null, topic,
	// event, payload]. With V2 and a binary payload it is a binary kind-2
	// broadcast. V2 refuses a JSON payload that is not an object.
	AppendBroadcast(dst []byte, topic, event string, p Payload) ([]byte, bool, error)
}

// The serializers. Index gives each a small stable number, for per-serializer
// caches (encode a broadcast once per serializer).
var (
	V1 Serializer = v1{}
	V2 Serializer = v2{}
)

// NumSerializers is the number of serializers; Index(s) < NumSerializers.
const NumSerializers = 2

// Index returns a small stable number for s (V1 → 0, V2 → 1).
func Index(s Serializer) int {
	if _, ok := s.(v2); ok {
		return 1
	}
	return 0
}

// Negotiate picks the serializer for a vsn connect parameter the way Phoenix
// does: "" (missing) means "1.0.0"; a full semantic version matching ~> 1.0.0
// selects V1 and ~> 2.0.0 selects V2; anything else is ErrUnsupportedVersion.
func Negotiate(vsn string) (Serializer, error) {
	return negotiate(vsn)
}
