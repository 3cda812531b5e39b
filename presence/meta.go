package presence

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/pyrehq/pyre/internal/jsonstr"
)

// Meta is one tracked entry of a key: the meta given to Track and the
// refs the tracker adds. On the wire it is one JSON object, the meta's
// fields plus "phx_ref" (and "phx_ref_prev" after an update), which is
// what phoenix.js compares entries by.
type Meta struct {
	// Ref is the entry's phx_ref: an opaque string, unique in the cluster.
	Ref string
	// PrevRef is the phx_ref this entry replaced (phx_ref_prev), set by
	// Update; "" for a tracked entry.
	PrevRef string
	// Fields is the meta as the clients see it, without the refs. It went
	// through JSON, so numbers are float64 and nested objects are
	// map[string]any, on the node that tracked it as on every other. It is
	// shared: never modify it.
	Fields map[string]any

	raw json.RawMessage // Fields with the refs, encoded once.
}

// MarshalJSON encodes the meta as the clients see it. A Meta made by the
// tracker is encoded once, when tracked; the same bytes serve every list
// and diff.
func (m Meta) MarshalJSON() ([]byte, error) {
	if m.raw != nil {
		return m.raw, nil
	}
	return json.Marshal(m.wire())
}

// wire is the meta as a JSON object: Fields plus the refs.
func (m Meta) wire() map[string]any {
	w := make(map[string]any, len(m.Fields)+2)
	for k, v := range m.Fields {
		if k != "phx_ref" && k != "phx_ref_prev" {
			w[k] = v
		}
	}
	w["phx_ref"] = m.Ref
	if m.PrevRef != "" {
		w["phx_ref_prev"] = m.PrevRef
	}
	return w
}

// newMeta encodes fields with the refs, and decodes the result again, so
// that Fields is what every node sees: JSON types, never the caller's map.
func newMeta(fields map[string]any, ref, prev string) (Meta, error) {
	m := Meta{Ref: ref, PrevRef: prev, Fields: fields}
	raw, err := json.Marshal(m.wire())
	if err != nil {
		return Meta{}, fmt.Errorf("presence: cannot encode meta: %w", err)
	}
	return decodeMeta(raw)
}

// decodeMeta reads a meta as it is gossiped: a JSON object with phx_ref.
func decodeMeta(raw []byte) (Meta, error) {
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Meta{}, fmt.Errorf("presence: bad meta: %w", err)
	}
	ref, _ := fields["phx_ref"].(string)
	if ref == "" {
		return Meta{}, fmt.Errorf("presence: meta without phx_ref")
	}
	prev, _ := fields["phx_ref_prev"].(string)
	delete(fields, "phx_ref")
	delete(fields, "phx_ref_prev")
	return Meta{Ref: ref, PrevRef: prev, Fields: fields, raw: raw}, nil
}

// Presence is what one key holds on a topic: its metas, oldest first, as
// Phoenix.Presence lists them ({"metas": [...]}), plus the fields a
// [Options.Fetch] hook adds beside "metas".
type Presence struct {
	Metas []Meta
	// Extra holds fields encoded beside "metas" (Phoenix's fetch/2 adding,
	// say, the user's name). A key "metas" here is ignored.
	Extra map[string]any
}

// MarshalJSON encodes {"metas": [...], extra fields...}.
func (p *Presence) MarshalJSON() ([]byte, error) {
	return p.appendJSON(nil)
}

func (p *Presence) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"metas":[`...)
	for i, m := range p.Metas {
		if i > 0 {
			b = append(b, ',')
		}
		mb, err := m.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, mb...)
	}
	b = append(b, ']')
	if len(p.Extra) == 0 {
		return append(b, '}'), nil
	}
	for _, k := range slices.Sorted(maps.Keys(p.Extra)) {
		if k == "metas" {
			continue
		}
		v, err := json.Marshal(p.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("presence: cannot encode %q: %w", k, err)
		}
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// appendPresences encodes presences as a JSON object, keys sorted (so the
// output does not depend on map order).
func appendPresences(b []byte, presences map[string]*Presence) ([]byte, error) {
	size := 2
	for k, p := range presences {
		if p != nil {
			size += len(k) + 16
			for _, m := range p.Metas {
				size += len(m.raw) + 1
			}
		}
	}
	b = slices.Grow(b, size)
	b = append(b, '{')
	first := true
	for _, k := range slices.Sorted(maps.Keys(presences)) {
		p := presences[k]
		if p == nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = p.appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return jsonstr.Append(b, s) }
