package channeltest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
)

// Presence is what one key holds in a presence_state, or in one side of a
// presence_diff, as package presence sends it: {"metas": [...]} and the
// fields a presence.Options.Fetch hook adds.
type Presence struct {
	// Metas are the key's metas, oldest first, as encoding/json decodes
	// them into a map (numbers are float64), "phx_ref" and "phx_ref_prev"
	// included.
	Metas []map[string]any
	// Extra holds the fields beside "metas", nil when there are none.
	Extra map[string]any
}

// Presences is a decoded presence_state, or one side of a presence_diff:
// each key with its Presence.
type Presences map[string]Presence

// Keys returns the keys, sorted.
func (p Presences) Keys() []string {
	return slices.Sorted(maps.Keys(p))
}

// PresenceDiff is a decoded presence_diff.
type PresenceDiff struct {
	Joins  Presences
	Leaves Presences
}

// AssertPresenceState waits for the client to receive a presence_state
// (presence.Tracker.TrackAndPushState or PushState) listing exactly keys,
// in any order, and fails the test if none comes within the timeout. It
// returns the state, for checks of the metas. Phoenix:
// assert_push "presence_state", %{"ann" => _, "bob" => _}.
func (ch *Channel) AssertPresenceState(keys ...string) Presences {
	ch.c.t.Helper()
	want := sortedSet(keys)
	var got Presences
	if !ch.c.wait(ch.c.timeout, true, func() bool {
		return ch.take(func(f *frame) bool {
			if f.event != presence.EventState {
				return false
			}
			p, err := decodePresences(f.payload)
			if err != nil || !slices.Equal(p.Keys(), want) {
				return false
			}
			got = p
			return true
		}) != nil
	}) {
		ch.fail(ch.report(fmt.Sprintf("no %s listing the keys %q within %v", presence.EventState, want, ch.c.timeout), nil, ""))
		return nil
	}
	return got
}

// AssertPresenceDiff waits for a presence_diff whose joins are exactly the
// keys joins and whose leaves are exactly the keys leaves (nil or empty
// for none), and fails the test if the client receives none within the
// timeout. An update of a key's meta is one diff with the key in both.
// It returns the diff, for checks of the metas.
//
// The tracker merges the changes made while a diff of the topic is being
// broadcast into its next diff. When several clients join or leave at
// once, which diff carries which key is not set: assert the resulting
// list with AssertPresenceList instead.
func (ch *Channel) AssertPresenceDiff(joins, leaves []string) PresenceDiff {
	ch.c.t.Helper()
	wantJoins, wantLeaves := sortedSet(joins), sortedSet(leaves)
	var got PresenceDiff
	if !ch.c.wait(ch.c.timeout, true, func() bool {
		return ch.take(func(f *frame) bool {
			if f.event != presence.EventDiff {
				return false
			}
			d, err := decodeDiff(f.payload)
			if err != nil || !slices.Equal(d.Joins.Keys(), wantJoins) || !slices.Equal(d.Leaves.Keys(), wantLeaves) {
				return false
			}
			got = d
			return true
		}) != nil
	}) {
		ch.fail(ch.report(fmt.Sprintf("no %s with joins %q and leaves %q within %v", presence.EventDiff, wantJoins, wantLeaves, ch.c.timeout), nil, ""))
		return PresenceDiff{}
	}
	return got
}

// AssertPresenceList waits until the presence list the client would show
// has exactly keys, and fails the test if it does not within the timeout.
// The list is built as phoenix.js's Presence builds it: from the
// presence_state, with every presence_diff applied in order (the diffs
// that come first wait for the state). Unlike the other assertions it
// takes nothing from the mailbox, and it does not depend on how the
// tracker grouped changes into diffs. It returns the list.
func (ch *Channel) AssertPresenceList(keys ...string) Presences {
	ch.c.t.Helper()
	want := sortedSet(keys)
	var got Presences
	if !ch.c.wait(ch.c.timeout, true, func() bool {
		v := &ch.presence
		if !v.synced || !slices.Equal(v.state.Keys(), want) {
			return false
		}
		got = v.state.clone()
		return true
	}) {
		ch.c.mu.Lock()
		v := &ch.presence
		var now string
		switch {
		case !v.synced:
			now = fmt.Sprintf("no %s has come (phoenix.js lists nobody until it has one)", presence.EventState)
		default:
			now = fmt.Sprintf("the list has %q", v.state.Keys())
		}
		if v.err != "" {
			now += "\n\t" + v.err
		}
		ch.c.mu.Unlock()
		ch.fail(ch.report(fmt.Sprintf("the presence list is not %q after %v: %s", want, ch.c.timeout, now), nil, ""))
		return nil
	}
	return got
}

// presenceView is the presence list the client would show, kept up to date
// by the reader as phoenix.js's Presence does.
type presenceView struct {
	state   Presences
	synced  bool           // A presence_state has come.
	pending []PresenceDiff // Diffs that came before the first state.
	err     string         // Why the last presence frame could not be read.
}

// apply updates the view with f, if it is a presence frame.
func (v *presenceView) apply(f *frame) {
	switch f.event {
	case presence.EventState:
		s, err := decodePresences(f.payload)
		if err != nil {
			v.err = fmt.Sprintf("a %s does not decode: %v", f.event, err)
			return
		}
		v.state, v.synced = s, true
		for _, d := range v.pending {
			v.state.apply(d)
		}
		v.pending = nil
	case presence.EventDiff:
		d, err := decodeDiff(f.payload)
		if err != nil {
			v.err = fmt.Sprintf("a %s does not decode: %v", f.event, err)
			return
		}
		if !v.synced {
			v.pending = append(v.pending, d)
			return
		}
		v.state.apply(d)
	}
}

// apply applies a diff as phoenix.js's Presence.syncDiff does: joins
// first, each replacing the metas of the same phx_ref, then leaves, by
// phx_ref; a key without metas left is removed.
func (p Presences) apply(d PresenceDiff) {
	for key, joined := range d.Joins {
		next := Presence{Metas: slices.Clone(joined.Metas), Extra: joined.Extra}
		if cur, ok := p[key]; ok {
			refs := metaRefs(joined.Metas)
			kept := slices.DeleteFunc(slices.Clone(cur.Metas), func(m map[string]any) bool { return refs[metaRef(m)] })
			next.Metas = append(kept, next.Metas...)
		}
		p[key] = next
	}
	for key, left := range d.Leaves {
		cur, ok := p[key]
		if !ok {
			continue
		}
		refs := metaRefs(left.Metas)
		cur.Metas = slices.DeleteFunc(slices.Clone(cur.Metas), func(m map[string]any) bool { return refs[metaRef(m)] })
		if len(cur.Metas) == 0 {
			delete(p, key)
		} else {
			p[key] = cur
		}
	}
}

func (p Presences) clone() Presences {
	out := make(Presences, len(p))
	for k, v := range p {
		out[k] = Presence{Metas: slices.Clone(v.Metas), Extra: v.Extra}
	}
	return out
}

func metaRef(m map[string]any) string {
	s, _ := m["phx_ref"].(string)
	return s
}

func metaRefs(metas []map[string]any) map[string]bool {
	refs := make(map[string]bool, len(metas))
	for _, m := range metas {
		refs[metaRef(m)] = true
	}
	return refs
}

// decodePresences decodes a presence_state payload, or one side of a
// diff.
func decodePresences(p protocol.Payload) (Presences, error) {
	if p.IsBinary() {
		return nil, fmt.Errorf("binary payload")
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(p.Bytes(), &raw); err != nil {
		return nil, err
	}
	return presencesOf(raw)
}

func presencesOf(raw map[string]map[string]json.RawMessage) (Presences, error) {
	out := make(Presences, len(raw))
	for key, fields := range raw {
		var pr Presence
		metas, ok := fields["metas"]
		if !ok {
			return nil, fmt.Errorf("key %q has no metas", key)
		}
		if err := json.Unmarshal(metas, &pr.Metas); err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		for name, v := range fields {
			if name == "metas" {
				continue
			}
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, fmt.Errorf("key %q: %w", key, err)
			}
			if pr.Extra == nil {
				pr.Extra = map[string]any{}
			}
			pr.Extra[name] = x
		}
		out[key] = pr
	}
	return out, nil
}

// decodeDiff decodes a presence_diff payload.
func decodeDiff(p protocol.Payload) (PresenceDiff, error) {
	if p.IsBinary() {
		return PresenceDiff{}, fmt.Errorf("binary payload")
	}
	var raw struct {
		Joins  map[string]map[string]json.RawMessage `json:"joins"`
		Leaves map[string]map[string]json.RawMessage `json:"leaves"`
	}
	if err := json.Unmarshal(p.Bytes(), &raw); err != nil {
		return PresenceDiff{}, err
	}
	var d PresenceDiff
	var err error
	if d.Joins, err = presencesOf(raw.Joins); err != nil {
		return PresenceDiff{}, fmt.Errorf("joins: %w", err)
	}
	if d.Leaves, err = presencesOf(raw.Leaves); err != nil {
		return PresenceDiff{}, fmt.Errorf("leaves: %w", err)
	}
	return d, nil
}

// sortedSet returns keys sorted, without duplicates, never nil.
func sortedSet(keys []string) []string {
	s := slices.Compact(slices.Sorted(slices.Values(keys)))
	if s == nil {
		s = []string{}
	}
	return s
}
