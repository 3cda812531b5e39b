package nats

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// The wire format of a message, the body of one NATS message:
//
//	version  1 byte   wireVersion
//	flags    1 byte   flagBinary if the payload is binary, else 0 (JSON)
//	origin   uvarint length, then the bytes (never empty)
//	topic    uvarint length, then the bytes
//	event    uvarint length, then the bytes
//	payload  uvarint length, then the bytes (never empty for JSON: the
//	         empty JSON payload is written "{}", as Payload.Bytes says)
//
// and nothing after. Lengths are minimal uvarints (encoding/binary). A
// node drops the messages it cannot decode, including those of a later
// version: a change of layout takes a new version, and the nodes of a
// cluster are upgraded to a version that reads it before any sends it.
// The format is strict, so that a message has exactly one encoding: what
// decodes encodes back to the same bytes.
const (
	wireVersion = 1
	flagBinary  = 1
)

// errMalformed wraps the reasons a message cannot be decoded.
var errMalformed = errors.New("pubsub/nats: malformed message")

// encodedSize returns the size of m's encoding.
func encodedSize(m *pubsub.Message) int {
	n := 2
	for _, l := range [...]int{len(m.Origin), len(m.Topic), len(m.Event), len(m.Payload.Bytes())} {
		n += uvarintLen(uint64(l)) + l
	}
	return n
}

// appendMessage appends the encoding of m (Origin, Topic, Event and
// Payload; never From) to dst. The result does not share memory with m.
func appendMessage(dst []byte, m *pubsub.Message) []byte {
	var flags byte
	if m.Payload.IsBinary() {
		flags = flagBinary
	}
	dst = append(dst, wireVersion, flags)
	dst = appendField(dst, m.Origin)
	dst = appendField(dst, m.Topic)
	dst = appendField(dst, m.Event)
	p := m.Payload.Bytes()
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

func appendField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// encodeMessage returns the encoding of m in a new slice of the exact
// size.
func encodeMessage(m *pubsub.Message) []byte {
	return appendMessage(make([]byte, 0, encodedSize(m)), m)
}

// decodeMessage returns the message b encodes, or an error wrapping
// errMalformed. It never panics, and allocates nothing before it has
// checked that a length fits in what remains of b. The payload of the
// message is a sub-slice of b (capacity-limited), so b must not be
// modified afterwards; the strings are copies.
func decodeMessage(b []byte) (*pubsub.Message, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes, too short for a header", errMalformed, len(b))
	}
	if b[0] != wireVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errMalformed, b[0], wireVersion)
	}
	flags := b[1]
	if flags&^flagBinary != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", errMalformed, flags)
	}
	d := decoder{b: b, off: 2}
	origin := d.field("origin")
	topic := d.field("topic")
	event := d.field("event")
	payload := d.bytes("payload")
	switch {
	case d.err != nil:
		return nil, d.err
	case d.off != len(b):
		return nil, fmt.Errorf("%w: %d bytes after the payload", errMalformed, len(b)-d.off)
	case len(origin) == 0:
		return nil, fmt.Errorf("%w: no origin", errMalformed)
	case len(payload) == 0 && flags&flagBinary == 0:
		// An empty JSON payload reads as "{}", which is what the
		// encoder writes: refused, so that every message has one encoding.
		return nil, fmt.Errorf("%w: empty JSON payload", errMalformed)
	}
	m := &pubsub.Message{Topic: topic, Event: event, Origin: origin}
	if flags&flagBinary != 0 {
		m.Payload = protocol.Binary(payload)
	} else {
		m.Payload = protocol.JSON(payload)
	}
	return m, nil
}

// decoder reads length-prefixed fields; after the first error, it reads
// nothing more and keeps that error.
type decoder struct {
	b   []byte
	off int
	err error
}

// bytes reads a length-prefixed field and returns it as a sub-slice of
// d.b whose capacity ends with it.
func (d *decoder) bytes(what string) []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b[d.off:])
	switch {
	case k == 0:
		d.err = fmt.Errorf("%w: truncated before the length of the %s", errMalformed, what)
		return nil
	case k < 0:
		d.err = fmt.Errorf("%w: the length of the %s overflows", errMalformed, what)
		return nil
	case k != uvarintLen(n):
		d.err = fmt.Errorf("%w: the length of the %s is not minimally encoded", errMalformed, what)
		return nil
	}
	d.off += k
	if rest := uint64(len(d.b) - d.off); n > rest {
		d.err = fmt.Errorf("%w: the %s says %d bytes, %d remain", errMalformed, what, n, rest)
		return nil
	}
	end := d.off + int(n)
	f := d.b[d.off:end:end]
	d.off = end
	return f
}

// field reads a length-prefixed string field.
func (d *decoder) field(what string) string { return string(d.bytes(what)) }

// uvarintLen returns the size of the minimal uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
