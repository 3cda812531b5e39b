package channeltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pyrehq/pyre/protocol"
)

// The wire codec of the test client, written from docs/protocol.md rather
// than with package protocol's encoders, so that a bug in the server's
// encoder is not mirrored by the client that tests it.

// frame is one message the server sent to the client, decoded.
type frame struct {
	joinRef string // "" for null
	ref     string // "" for null
	topic   string
	event   string
	// payload is the message's payload; for a phx_reply, the response.
	payload protocol.Payload
	// status is a phx_reply's status.
	status string
	// raw is the frame as it came, for failure messages.
	raw    []byte
	binary bool
}

const (
	eventReply = "phx_reply"
	eventJoin  = "phx_join"
	eventLeave = "phx_leave"
	eventClose = "phx_close"
	eventError = "phx_error"
)

// encodeFrame encodes a client message in serializer ser. joinRef and ref
// are sent as JSON strings, or null when empty. It reports whether the
// frame is a binary WebSocket message.
func encodeFrame(ser protocol.Serializer, joinRef, ref, topic, event string, p protocol.Payload) ([]byte, bool, error) {
	if p.IsBinary() {
		if ser == protocol.V1 {
			return nil, false, errors.New("binary payloads need the V2 serializer")
		}
		for _, f := range []string{joinRef, ref, topic, event} {
			if len(f) > 255 {
				return nil, false, fmt.Errorf("%q is longer than the 255 bytes a binary frame allows", f)
			}
		}
		b := []byte{0, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(event))}
		b = append(b, joinRef...)
		b = append(b, ref...)
		b = append(b, topic...)
		b = append(b, event...)
		return append(b, p.Bytes()...), true, nil
	}
	payload := p.Bytes()
	if !json.Valid(payload) {
		return nil, false, fmt.Errorf("payload is not valid JSON: %s", truncate(payload))
	}
	var b bytes.Buffer
	if ser == protocol.V1 {
		// A V1 client (vsn 1.0.0) sends no join_ref, as phoenix.js 1.2 did.
		b.WriteString(`{"topic":`)
		b.WriteString(quote(topic))
		b.WriteString(`,"event":`)
		b.WriteString(quote(event))
		b.WriteString(`,"payload":`)
		b.Write(payload)
		b.WriteString(`,"ref":`)
		b.WriteString(refJSON(ref))
		b.WriteString("}")
		return b.Bytes(), false, nil
	}
	b.WriteString("[")
	b.WriteString(refJSON(joinRef))
	b.WriteString(",")
	b.WriteString(refJSON(ref))
	b.WriteString(",")
	b.WriteString(quote(topic))
	b.WriteString(",")
	b.WriteString(quote(event))
	b.WriteString(",")
	b.Write(payload)
	b.WriteString("]")
	return b.Bytes(), false, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func refJSON(r string) string {
	if r == "" {
		return "null"
	}
	return quote(r)
}

// decodeFrame decodes a frame the server sent to a client of serializer
// ser.
func decodeFrame(ser protocol.Serializer, data []byte, binary bool) (*frame, error) {
	var f *frame
	var err error
	switch {
	case binary && ser == protocol.V1:
		return nil, errors.New("binary frame sent to a V1 client")
	case binary:
		f, err = decodeBinary(data)
	case ser == protocol.V1:
		f, err = decodeV1(data)
	default:
		f, err = decodeV2(data)
	}
	if err != nil {
		return nil, err
	}
	f.raw, f.binary = data, binary
	if f.event == eventReply && !binary {
		if err := f.splitReply(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func decodeV1(data []byte) (*frame, error) {
	var obj struct {
		Topic   *string         `json:"topic"`
		Event   *string         `json:"event"`
		Payload json.RawMessage `json:"payload"`
		Ref     json.RawMessage `json:"ref"`
		JoinRef json.RawMessage `json:"join_ref"`
	}
	if err := json.Unmarshal(data, &obj); err != nil || obj.Topic == nil || obj.Event == nil || obj.Payload == nil || obj.Ref == nil {
		return nil, fmt.Errorf("not a V1 message (an object with topic, event, payload and ref): %s", truncate(data))
	}
	f := &frame{topic: *obj.Topic, event: *obj.Event, payload: protocol.JSON(obj.Payload)}
	var err error
	if f.ref, err = decodeRef(obj.Ref); err != nil {
		return nil, err
	}
	if obj.JoinRef != nil {
		if f.joinRef, err = decodeRef(obj.JoinRef); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func decodeV2(data []byte) (*frame, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) != 5 {
		return nil, fmt.Errorf("not a V2 message (a 5-element array): %s", truncate(data))
	}
	f := &frame{payload: protocol.JSON(arr[4])}
	var err error
	if f.joinRef, err = decodeRef(arr[0]); err != nil {
		return nil, err
	}
	if f.ref, err = decodeRef(arr[1]); err != nil {
		return nil, err
	}
	if json.Unmarshal(arr[2], &f.topic) != nil || json.Unmarshal(arr[3], &f.event) != nil {
		return nil, fmt.Errorf("V2 topic and event must be strings: %s", truncate(data))
	}
	return f, nil
}

// decodeRef returns a ref's text: a string's value, a number's digits, ""
// for null.
func decodeRef(raw json.RawMessage) (string, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("bad ref %s", truncate(raw))
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("ref is neither a string, a number nor null: %s", truncate(raw))
}

// decodeBinary decodes the three kinds of binary frames a V2 server sends
// (docs/protocol.md, "V2 binary frames").
func decodeBinary(b []byte) (*frame, error) {
	short := fmt.Errorf("truncated binary frame (%d bytes)", len(b))
	if len(b) == 0 {
		return nil, short
	}
	var n int
	switch b[0] {
	case 0: // push: join_ref, topic, event
		n = 3
	case 1: // reply: join_ref, ref, topic, status
		n = 4
	case 2: // broadcast: topic, event
		n = 2
	default:
		return nil, fmt.Errorf("unknown binary frame kind %d", b[0])
	}
	if len(b) < 1+n {
		return nil, short
	}
	fields := make([]string, n)
	off := 1 + n
	for i := range n {
		l := int(b[1+i])
		if len(b) < off+l {
			return nil, short
		}
		fields[i] = string(b[off : off+l])
		off += l
	}
	f := &frame{payload: protocol.Binary(b[off:])}
	switch b[0] {
	case 0:
		f.joinRef, f.topic, f.event = fields[0], fields[1], fields[2]
	case 1:
		f.joinRef, f.ref, f.topic, f.status, f.event = fields[0], fields[1], fields[2], fields[3], eventReply
	case 2:
		f.topic, f.event = fields[0], fields[1]
	}
	return f, nil
}

// splitReply turns a JSON phx_reply's payload into its status and response.
func (f *frame) splitReply() error {
	var r struct {
		Status   *string         `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(f.payload.Bytes(), &r); err != nil {
		return fmt.Errorf("phx_reply payload is not {\"status\", \"response\"}: %s", truncate(f.raw))
	}
	if r.Status != nil {
		f.status = *r.Status
	}
	if r.Response == nil || bytes.Equal(r.Response, []byte("null")) {
		r.Response = json.RawMessage("null")
	}
	f.payload = protocol.JSON(r.Response)
	return nil
}

// String shows the frame as it came over the wire, the way docs/protocol.md
// writes frames.
func (f *frame) String() string {
	if !f.binary {
		return string(truncate(f.raw))
	}
	switch {
	case f.event == eventReply:
		return fmt.Sprintf("binary reply [%s, %s, %s, status %q] %s", showRef(f.joinRef), showRef(f.ref), quote(f.topic), f.status, showPayload(f.payload))
	case f.joinRef == "":
		return fmt.Sprintf("binary broadcast [%s, %s] %s", quote(f.topic), quote(f.event), showPayload(f.payload))
	}
	return fmt.Sprintf("binary push [%s, %s, %s] %s", showRef(f.joinRef), quote(f.topic), quote(f.event), showPayload(f.payload))
}

func showRef(r string) string {
	if r == "" {
		return "null"
	}
	return strconv.Quote(r)
}

// maxShow bounds what a failure message shows of one payload or frame.
const maxShow = 1000

func truncate(b []byte) []byte {
	if len(b) <= maxShow {
		return b
	}
	return append(b[:maxShow:maxShow], "..."...)
}
