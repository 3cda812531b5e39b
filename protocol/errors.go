package protocol

import (
	"errors"
	"fmt"
)

// Sentinel errors. Decoders and encoders wrap them with detail, so test
// for them with [errors.Is].
var (
	// ErrUnsupportedVersion is returned by [Negotiate] for a vsn that
	// selects no serializer. Phoenix refuses such a connect (HTTP 403).
	ErrUnsupportedVersion = errors.New("protocol: unsupported vsn")

	// ErrInvalidMessage is returned by Decode for a frame that is not a
	// Phoenix message: malformed JSON, the wrong shape, a missing field, a
	// field of the wrong type or a truncated binary frame. Phoenix closes
	// the connection on such a frame.
	ErrInvalidMessage = errors.New("protocol: invalid message")

	// ErrUnknownBinaryKind is returned by V2 Decode for a binary frame
	// whose kind byte is not 0 (client push). It wraps ErrInvalidMessage.
	ErrUnknownBinaryKind = fmt.Errorf("%w: unknown binary frame kind", ErrInvalidMessage)

	// ErrPayloadNotObject is returned by the V2 encoders for a push or a
	// broadcast whose JSON payload is not an object. Phoenix raises in
	// the encoding process in that case.
	ErrPayloadNotObject = errors.New("protocol: payload is not a JSON object")

	// ErrFieldTooLong is returned by the V2 encoders when a header field
	// of a binary frame (join_ref, ref, topic, event or status) is longer
	// than 255 bytes.
	ErrFieldTooLong = errors.New("protocol: binary header field longer than 255 bytes")

	// ErrBinaryNotSupported is returned by the V1 encoders for a binary
	// payload: V1 has text frames only, and Phoenix cannot send binary
	// data to a V1 client either.
	ErrBinaryNotSupported = errors.New("protocol: binary payload needs vsn 2.0.0")
)
