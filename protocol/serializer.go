package protocol

import "fmt"

// Serializer is one of the wire formats of the Phoenix protocol: [V1] or
// [V2]. It is a closed set: the zero Serializer and any other value are
// not serializers, and their methods return [ErrUnsupportedVersion].
// Serializers are values, safe to copy, compare and use concurrently.
//
// The Append methods append the encoded frame to dst and return the
// extended slice and whether the frame must be sent as a binary WebSocket
// message. They never retain dst.
type Serializer uint8

// The serializers.
const (
	// V1 is vsn 1.0.x: text frames holding a JSON object
	// {"topic":..,"event":..,"payload":..,"ref":..}. join_ref is never
	// sent and binary payloads are not possible.
	V1 Serializer = 1
	// V2 is vsn 2.0.x: text frames holding the JSON array
	// [join_ref, ref, topic, event, payload], and binary frames for
	// binary payloads.
	V2 Serializer = 2
)

// Version is the serializer's vsn: "1.0.0" or "2.0.0".
func (s Serializer) Version() string {
	switch s {
	case V1:
		return "1.0.0"
	case V2:
		return "2.0.0"
	}
	return ""
}

// String returns "V1" or "V2".
func (s Serializer) String() string {
	switch s {
	case V1:
		return "V1"
	case V2:
		return "V2"
	}
	return fmt.Sprintf("Serializer(%d)", uint8(s))
}

// Decode parses one inbound frame. binary is the WebSocket opcode (true
// for a binary message); V1 reads every frame as JSON, as Phoenix does.
// Decode may keep references into data in the returned Message (the
// caller hands the buffer over).
func (s Serializer) Decode(data []byte, binary bool) (Message, error) {
	switch s {
	case V1:
		return decodeV1(data)
	case V2:
		if binary {
			return decodeBinary(data)
		}
		return decodeV2Text(data)
	}
	return Message{}, s.unsupported()
}

// AppendMessage encodes a push or a control message (phx_close,
// phx_error): [join_ref, ref, topic, event, payload]. With V2 and a
// binary payload it is a binary kind-0 push (the ref is dropped). V2
// refuses a JSON payload that is not an object ([ErrPayloadNotObject]);
// V1 refuses a binary one ([ErrBinaryNotSupported]).
func (s Serializer) AppendMessage(dst []byte, m *Message) ([]byte, bool, error) {
	switch s {
	case V1:
		return appendV1Message(dst, m)
	case V2:
		return appendV2Message(dst, m)
	}
	return dst, false, s.unsupported()
}

// AppendReply encodes a phx_reply. With V2 and a binary response it is a
// binary kind-1 reply.
func (s Serializer) AppendReply(dst []byte, r *Reply) ([]byte, bool, error) {
	switch s {
	case V1:
		return appendV1Reply(dst, r)
	case V2:
		return appendV2Reply(dst, r)
	}
	return dst, false, s.unsupported()
}

// AppendBroadcast encodes a fast-lane broadcast [null, null, topic,
// event, payload]. With V2 and a binary payload it is a binary kind-2
// broadcast. V2 refuses a JSON payload that is not an object.
func (s Serializer) AppendBroadcast(dst []byte, topic, event string, p Payload) ([]byte, bool, error) {
	switch s {
	case V1:
		return appendV1Broadcast(dst, topic, event, p)
	case V2:
		return appendV2Broadcast(dst, topic, event, p)
	}
	return dst, false, s.unsupported()
}

func (s Serializer) unsupported() error {
	return fmt.Errorf("%w: %v", ErrUnsupportedVersion, s)
}

// Negotiate picks the serializer for a vsn connect parameter the way Phoenix
// does: "" (missing) means "1.0.0"; a full semantic version matching ~> 1.0.0
// selects V1 and ~> 2.0.0 selects V2; anything else is ErrUnsupportedVersion.
func Negotiate(vsn string) (Serializer, error) {
	return negotiate(vsn)
}
