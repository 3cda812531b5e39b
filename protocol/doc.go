// Package protocol encodes and decodes the Phoenix Channels wire protocol:
// the frames a phoenix.js client and a Phoenix server exchange over a
// WebSocket or long-poll transport. It does no I/O.
//
// A message has five fields, join_ref, ref, topic, event and payload
// ([Message]); a reply is the event phx_reply with the payload
// {"status": ..., "response": ...} ([Reply]). There are three wire formats:
//
//   - V1 JSON (vsn 1.0.x, [V1]): a text frame holding the object
//     {"topic":..,"event":..,"payload":..,"ref":..}. join_ref is never
//     sent; binary payloads are not possible ([ErrBinaryNotSupported]).
//   - V2 JSON (vsn 2.0.x, [V2]): a text frame holding the array
//     [join_ref, ref, topic, event, payload]. Pushes and broadcasts must
//     carry a JSON object ([ErrPayloadNotObject]).
//   - V2 binary: a binary frame with a small header of length-prefixed
//     fields (each at most 255 bytes, [ErrFieldTooLong]) followed by raw
//     payload bytes. V2 uses it for [Binary] payloads.
//
// # Where to start
//
// [Negotiate] maps the vsn connect parameter to a [Serializer].
// [Serializer.Decode] parses an inbound frame; the Append methods encode
// outbound frames into a caller's buffer and say whether the frame is text
// or binary. Refs are kept as JSON text ([Ref]) so they are echoed back
// with the type the client sent; payloads are raw JSON or bytes
// ([Payload]) and are never re-encoded.
//
// # Concurrency
//
// Everything here is stateless: [V1], [V2] and all functions are safe for
// concurrent use. A [Frame] built once may be written to many connections.
//
// # Ownership
//
// Decode does not copy the payload: the returned [Message] refers to data
// (the header fields are copied into a string), so the caller must not
// reuse or modify data while the message is in use. Likewise [JSON] and
// [Binary] keep the slice they are given. The Append methods never retain
// dst.
package protocol
