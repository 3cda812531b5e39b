package redis

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pyrehq/pyre/protocol"
)

// Codec decides what goes on the wire: the bytes of each message, and the
// Redis channels they travel on. It is the part of the adapter to replace
// to speak another format, such as phoenix_pubsub_redis's (one channel per
// app for every message, Erlang terms), without touching the rest:
// queueing, reconnection, subscriptions and filtering stay the adapter's.
//
// The adapter calls a Codec as follows:
//
//   - a node subscribes to NodeChannel(node) from Start to Close, and to
//     TopicChannel(topic) while it watches topic. Several topics, and a
//     node, may share one channel: the adapter subscribes to each channel
//     once, and unsubscribes when nothing needs it any more;
//   - a broadcast is published once, to TopicChannel(topic); a direct
//     broadcast once, to NodeChannel(node), with [Envelope].To set;
//   - every publication received on those channels goes to Decode. The
//     adapter, not the codec, then drops what is not for this node: a
//     direct broadcast to another node, a broadcast of a topic the node
//     does not watch, and the node's own broadcasts coming back.
//
// PUBLISH returns the number of clients subscribed to the channel; when it
// is 0 for a direct broadcast, [Adapter.DirectBroadcast] returns
// [pubsub.ErrUnknownNode]. A codec whose node channels are shared cannot
// tell unknown nodes apart, and the adapter then returns nil, as the
// [pubsub.Adapter] contract allows.
//
// A Codec's methods are called from several goroutines at once and must
// be safe for concurrent use; [BinaryCodec] has no state.
type Codec interface {
	// TopicChannel returns the Redis channel the broadcasts of topic are
	// published to, and that a node watching topic subscribes to.
	TopicChannel(topic string) string

	// NodeChannel returns the Redis channel the direct broadcasts to node
	// are published to, and that node subscribes to while it runs.
	NodeChannel(node string) string

	// Encode appends the encoding of e to dst and returns the extended
	// slice. It must not keep e, or its Payload bytes, after returning.
	Encode(dst []byte, e *Envelope) ([]byte, error)

	// Decode decodes one publication. data is the adapter's own copy:
	// the returned Envelope may keep it (its Payload may alias it). For
	// data it cannot read, Decode returns an error wrapping
	// [ErrInvalidMessage] and never panics, whatever data holds; for a
	// publication that is not a message for the PubSub, [ErrSkip].
	Decode(data []byte) (Envelope, error)
}

// Envelope is a message as it crosses Redis: a [pubsub.Message] without
// From, with the node it is addressed to.
type Envelope struct {
	// Origin is the name of the node the message was broadcast on. It is
	// never empty.
	Origin string

	// To is the node of a direct broadcast, or empty for a broadcast to
	// every node that watches Topic.
	To string

	Topic   string
	Event   string
	Payload protocol.Payload
}

// DefaultPrefix starts the channel names of [BinaryCodec] when its Prefix
// is empty.
const DefaultPrefix = "pyre"

// BinaryCodec is the default [Codec]: one Redis channel per topic and one
// per node, and a compact binary encoding.
//
// Channels are Prefix + ":t:" + topic and Prefix + ":n:" + node, so that
// a node receives only the topics it watches, and several apps share one
// Redis with different prefixes (Redis Pub/Sub ignores the DB number).
//
// A message is, in order:
//
//	0x70 ('p')           magic
//	0x01                 version
//	flags                1 byte: 0x01 binary payload, 0x02 direct (To follows)
//	Origin               uvarint length, bytes
//	To                   uvarint length, bytes (direct only)
//	Topic                uvarint length, bytes
//	Event                uvarint length, bytes
//	payload              the remaining bytes
//
// Decode refuses another magic or version, unknown flags, an empty Origin
// or To, and a length past the end of the data. The payload is not
// copied: it aliases the decoded data.
type BinaryCodec struct {
	// Prefix starts every channel name. If empty, [DefaultPrefix].
	Prefix string
}

var _ Codec = BinaryCodec{}

// Wire format constants of BinaryCodec.
const (
	codecMagic   = 'p'
	codecVersion = 1

	flagBinary = 0x01
	flagDirect = 0x02
	flagsKnown = flagBinary | flagDirect
)

func (c BinaryCodec) prefix() string {
	if c.Prefix == "" {
		return DefaultPrefix
	}
	return c.Prefix
}

// TopicChannel implements [Codec]: Prefix + ":t:" + topic.
func (c BinaryCodec) TopicChannel(topic string) string { return c.prefix() + ":t:" + topic }

// NodeChannel implements [Codec]: Prefix + ":n:" + node.
func (c BinaryCodec) NodeChannel(node string) string { return c.prefix() + ":n:" + node }

// Encode implements [Codec]. It fails only for an empty Origin.
func (BinaryCodec) Encode(dst []byte, e *Envelope) ([]byte, error) {
	if e.Origin == "" {
		return dst, errors.New("redis: cannot encode a message without Origin")
	}
	var flags byte
	if e.Payload.IsBinary() {
		flags |= flagBinary
	}
	if e.To != "" {
		flags |= flagDirect
	}
	dst = append(dst, codecMagic, codecVersion, flags)
	dst = appendString(dst, e.Origin)
	if e.To != "" {
		dst = appendString(dst, e.To)
	}
	dst = appendString(dst, e.Topic)
	dst = appendString(dst, e.Event)
	return append(dst, e.Payload.Bytes()...), nil
}

// encodedSize is the size of e's encoding by BinaryCodec, to allocate it
// once.
func encodedSize(e *Envelope) int {
	return 3 + 4*binary.MaxVarintLen32 + len(e.Origin) + len(e.To) + len(e.Topic) + len(e.Event) + len(e.Payload.Bytes())
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Decode implements [Codec].
func (BinaryCodec) Decode(data []byte) (Envelope, error) {
	var e Envelope
	if len(data) < 3 {
		return e, fmt.Errorf("%w: %d bytes, shorter than a header", ErrInvalidMessage, len(data))
	}
	if data[0] != codecMagic {
		return e, fmt.Errorf("%w: unknown magic byte %#x", ErrInvalidMessage, data[0])
	}
	if data[1] != codecVersion {
		return e, fmt.Errorf("%w: unsupported version %d", ErrInvalidMessage, data[1])
	}
	flags := data[2]
	if flags&^flagsKnown != 0 {
		return e, fmt.Errorf("%w: unknown flags %#x", ErrInvalidMessage, flags)
	}
	r := reader{data: data[3:]}
	e.Origin = r.string("origin")
	if flags&flagDirect != 0 {
		e.To = r.string("to")
		if r.err == nil && e.To == "" {
			r.err = fmt.Errorf("%w: empty target node", ErrInvalidMessage)
		}
	}
	e.Topic = r.string("topic")
	e.Event = r.string("event")
	if r.err != nil {
		return Envelope{}, r.err
	}
	if e.Origin == "" {
		return Envelope{}, fmt.Errorf("%w: empty origin", ErrInvalidMessage)
	}
	if flags&flagBinary != 0 {
		e.Payload = protocol.Binary(r.data)
	} else {
		e.Payload = protocol.JSON(r.data)
	}
	return e, nil
}

// reader reads length-prefixed strings; the first error sticks.
type reader struct {
	data []byte
	err  error
}

func (r *reader) string(field string) string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.data)
	switch {
	case k == 0:
		r.err = fmt.Errorf("%w: truncated before the %s length", ErrInvalidMessage, field)
		return ""
	case k < 0:
		r.err = fmt.Errorf("%w: %s length overflows", ErrInvalidMessage, field)
		return ""
	case n > uint64(len(r.data)-k):
		r.err = fmt.Errorf("%w: %s length %d past the end (%d bytes left)", ErrInvalidMessage, field, n, len(r.data)-k)
		return ""
	}
	s := string(r.data[k : k+int(n)])
	r.data = r.data[k+int(n):]
	return s
}
