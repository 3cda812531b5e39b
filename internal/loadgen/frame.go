package loadgen

import (
	"bytes"
	"strconv"
)

// frame is one V2 JSON frame, [join_ref, ref, topic, event, payload]; its
// fields point into the buffer it was parsed from. A null ref is empty.
type frame struct {
	joinRef, ref, topic, event []byte
	payload                    []byte // raw JSON
	size                       int    // of the whole frame
}

// parseFrame reads a V2 JSON frame. The refs, topic and event must be
// strings without escapes (or null refs), which is all the servers the
// tool measures send; the payload is taken as the rest of the array.
func parseFrame(b []byte) (frame, bool) {
	f := frame{size: len(b)}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return f, false
	}
	i++
	fields := [4]*[]byte{&f.joinRef, &f.ref, &f.topic, &f.event}
	for _, dst := range fields {
		s, j, ok := plainString(b, skipSpace(b, i))
		if !ok {
			return f, false
		}
		*dst = s
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ',' {
			return f, false
		}
		i = j + 1
	}
	end := bytes.LastIndexByte(b, ']')
	if end <= i {
		return f, false
	}
	f.payload = bytes.TrimSpace(b[i:end])
	return f, len(f.payload) > 0
}

// plainString reads null or a string without escapes at b[i]; it returns
// the string's bytes (nil for null) and the index after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if bytes.HasPrefix(b[i:], []byte("null")) {
		return nil, i + 4, true
	}
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			return nil, i, false
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, i, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// appendFrame writes [join_ref, ref, topic, event, payload]; an empty ref
// is null, an empty payload {}. topic and event must need no escaping.
func appendFrame(dst []byte, joinRef, ref, topic, event string, payload []byte) []byte {
	dst = append(dst, '[')
	dst = appendRef(dst, joinRef)
	dst = append(dst, ',')
	dst = appendRef(dst, ref)
	dst = append(dst, `,"`...)
	dst = append(dst, topic...)
	dst = append(dst, `","`...)
	dst = append(dst, event...)
	dst = append(dst, `",`...)
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	dst = append(dst, payload...)
	return append(dst, ']')
}

func appendRef(dst []byte, ref string) []byte {
	if ref == "" {
		return append(dst, "null"...)
	}
	return strconv.AppendQuote(dst, ref)
}

// appendPayload writes the payload of a measured message,
// {"bn":n,"bt":t} with pad bytes of "bx" padding when pad > 0: bn numbers
// the message, bt is when it was sent (nanoseconds on the run's clock).
func appendPayload(dst []byte, n, t int64, pad int) []byte {
	dst = append(dst, `{"bn":`...)
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, `,"bt":`...)
	dst = strconv.AppendInt(dst, t, 10)
	if pad > 0 {
		dst = append(dst, `,"bx":"`...)
		dst = append(dst, bytes.Repeat([]byte{'x'}, pad)...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// intField finds "key":<integer> in a payload. The measured payloads'
// keys (bn, bt) appear nowhere else in them, so a flat search is enough;
// an echo reply nests the payload under "response".
func intField(p []byte, key string) (int64, bool) {
	pat := make([]byte, 0, 16)
	pat = append(append(append(pat, '"'), key...), '"')
	i := bytes.Index(p, pat)
	if i < 0 {
		return 0, false
	}
	i = skipSpace(p, i+len(pat))
	if i >= len(p) || p[i] != ':' {
		return 0, false
	}
	i = skipSpace(p, i+1)
	j := i
	if j < len(p) && p[j] == '-' {
		j++
	}
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(p[i:j]), 10, 64)
	return v, err == nil
}

// replyOK reports whether a phx_reply payload has "status":"ok".
func replyOK(p []byte) bool {
	i := bytes.Index(p, []byte(`"status"`))
	if i < 0 {
		return false
	}
	i = skipSpace(p, i+len(`"status"`))
	if i >= len(p) || p[i] != ':' {
		return false
	}
	return bytes.HasPrefix(p[skipSpace(p, i+1):], []byte(`"ok"`))
}
