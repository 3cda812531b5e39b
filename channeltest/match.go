package channeltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pyrehq/pyre/protocol"
)

// want is an expected payload, prepared once per assertion: nil matches
// any payload.
type want struct {
	any     bool
	payload protocol.Payload
	value   any // The decoded JSON of a JSON payload.
}

// payloadOf converts v with the rules of channel.Socket.Push: nil is {},
// a protocol.Payload or json.RawMessage is taken as it is, anything else
// goes through encoding/json.
func payloadOf(v any) (protocol.Payload, error) {
	switch v := v.(type) {
	case nil:
		return protocol.JSON([]byte("{}")), nil
	case protocol.Payload:
		return v, nil
	case json.RawMessage:
		return protocol.JSON(v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return protocol.Payload{}, err
	}
	return protocol.JSON(b), nil
}

// newWant prepares v as the expected side of a comparison. nil matches any
// payload.
func newWant(v any) (*want, error) {
	if v == nil {
		return &want{any: true}, nil
	}
	p, err := payloadOf(v)
	if err != nil {
		return nil, fmt.Errorf("the wanted payload does not encode to JSON: %w", err)
	}
	w := &want{payload: p}
	if !p.IsBinary() {
		if w.value, err = decodeJSON(p.Bytes()); err != nil {
			return nil, fmt.Errorf("the wanted payload is not valid JSON: %s", truncate(p.Bytes()))
		}
	}
	return w, nil
}

// String shows the wanted payload.
func (w *want) String() string {
	if w.any {
		return "(any payload)"
	}
	return showPayload(w.payload)
}

// diff returns the differences between got and w, one line each, or nil
// when got matches.
func (w *want) diff(got protocol.Payload) []string {
	switch {
	case w.any:
		return nil
	case w.payload.IsBinary() && got.IsBinary():
		if bytes.Equal(w.payload.Bytes(), got.Bytes()) {
			return nil
		}
		return []string{fmt.Sprintf("binary payloads differ: got %s, want %s", showPayload(got), showPayload(w.payload))}
	case w.payload.IsBinary():
		return []string{fmt.Sprintf("got a JSON payload, want binary %s", showPayload(w.payload))}
	case got.IsBinary():
		return []string{fmt.Sprintf("got a binary payload (%d bytes), want JSON (wrap bytes in protocol.Binary to expect binary)", len(got.Bytes()))}
	}
	g, err := decodeJSON(got.Bytes())
	if err != nil {
		return []string{fmt.Sprintf("got invalid JSON: %s", truncate(got.Bytes()))}
	}
	var d differ
	d.walk("", g, w.value)
	if d.more > 0 {
		d.lines = append(d.lines, fmt.Sprintf("... and %d more differences", d.more))
	}
	return d.lines
}

func (w *want) match(got protocol.Payload) bool { return w.diff(got) == nil }

// decodeJSON decodes JSON text keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

// maxDiffLines bounds the differences listed for one payload.
const maxDiffLines = 10

// differ walks two decoded JSON values and lists where they differ, by
// path (".user.name", "[2]").
type differ struct {
	lines []string
	more  int
}

func (d *differ) add(path, format string, args ...any) {
	if len(d.lines) == maxDiffLines {
		d.more++
		return
	}
	if path == "" {
		path = "payload"
	}
	d.lines = append(d.lines, path+": "+fmt.Sprintf(format, args...))
}

func (d *differ) walk(path string, got, want any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			d.add(path, "got %s, want %s", showValue(got), showValue(want))
			return
		}
		keys := make([]string, 0, len(g)+len(w))
		for k := range g {
			keys = append(keys, k)
		}
		for k := range w {
			if _, ok := g[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, gok := g[k]
			wv, wok := w[k]
			p := path + keyPath(k)
			switch {
			case !gok:
				d.add(p, "missing, want %s", showValue(wv))
			case !wok:
				d.add(p, "got %s, not wanted", showValue(gv))
			default:
				d.walk(p, gv, wv)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			d.add(path, "got %s, want %s", showValue(got), showValue(want))
			return
		}
		if len(g) != len(w) {
			d.add(path, "got %d elements, want %d", len(g), len(w))
		}
		for i := range min(len(g), len(w)) {
			d.walk(path+"["+strconv.Itoa(i)+"]", g[i], w[i])
		}
	case json.Number:
		if g, ok := got.(json.Number); !ok || !sameNumber(g, w) {
			d.add(path, "got %s, want %s", showValue(got), showValue(want))
		}
	default:
		if !reflect.DeepEqual(got, want) {
			d.add(path, "got %s, want %s", showValue(got), showValue(want))
		}
	}
}

// sameNumber compares JSON numbers by value: 1, 1.0 and 1e0 are equal.
func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	ra, ok1 := new(big.Rat).SetString(string(a))
	rb, ok2 := new(big.Rat).SetString(string(b))
	return ok1 && ok2 && ra.Cmp(rb) == 0
}

// keyPath is the path element of an object key: .name, or ["odd key"].
func keyPath(k string) string {
	ident := k != ""
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			ident = false
			break
		}
	}
	if ident {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// showValue shows a decoded JSON value as compact JSON, keys sorted.
func showValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(truncate(b))
}

// showPayload shows a payload: its JSON text, or its size and first bytes.
func showPayload(p protocol.Payload) string {
	b := p.Bytes()
	if !p.IsBinary() {
		return string(truncate(b))
	}
	const maxBytes = 32
	var s strings.Builder
	fmt.Fprintf(&s, "<%d bytes: % x", len(b), b[:min(len(b), maxBytes)])
	if len(b) > maxBytes {
		s.WriteString(" ...")
	}
	s.WriteString(">")
	return s.String()
}
