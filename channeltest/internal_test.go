package channeltest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/pyrehq/pyre/protocol"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want any
		diff []string
	}{
		{"equal", `{"b":1,"a":[1,"x",null]}`, json.RawMessage(`{"a":[1,"x",null],"b":1}`), nil},
		{"number forms", `{"n":1.0,"m":1e2}`, map[string]int{"n": 1, "m": 100}, nil},
		{"big numbers are exact", `{"n":9007199254740993}`, map[string]int64{"n": 9007199254740992}, []string{".n: got 9007199254740993, want 9007199254740992"}},
		{"any", `[1]`, nil, nil},
		{"exactly empty", `{"a":1}`, map[string]any{}, []string{`.a: got 1, not wanted`}},
		{"nil response is {}", `{}`, struct{}{}, nil},
		{"type", `{"a":"1"}`, map[string]int{"a": 1}, []string{`.a: got "1", want 1`}},
		{"nested", `{"a":{"b":[1,2,3]}}`, json.RawMessage(`{"a":{"b":[1,5]}}`), []string{".a.b: got 3 elements, want 2", ".a.b[1]: got 2, want 5"}},
		{"odd keys", `{"x y":1}`, map[string]int{"x y": 2}, []string{`["x y"]: got 1, want 2`}},
		{"root", `[1]`, map[string]int{}, []string{"payload: got [1], want {}"}},
		{"null", `null`, map[string]int{}, []string{"payload: got null, want {}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := newWant(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.diff(protocol.JSON([]byte(tt.got))); !slices.Equal(got, tt.diff) {
				t.Errorf("diff = %q, want %q", got, tt.diff)
			}
		})
	}
}

func TestDiffBounded(t *testing.T) {
	t.Parallel()
	got := map[string]int{}
	for i := range 25 {
		got[string(rune('a'+i))] = i
	}
	b, _ := json.Marshal(got)
	w, _ := newWant(map[string]int{})
	d := w.diff(protocol.JSON(b))
	if len(d) != maxDiffLines+1 || d[maxDiffLines] != "... and 15 more differences" {
		t.Errorf("diff = %q", d)
	}
}

func TestDecodeBinary(t *testing.T) {
	t.Parallel()
	push := append([]byte{0, 2, 5, 5}, "12topicevent\x01\x02"...)
	reply := append([]byte{1, 2, 3, 5, 2}, "12123topicok\x03"...)
	bcast := append([]byte{2, 5, 5}, "topicevent\x04"...)
	for _, tt := range []struct {
		in   []byte
		want frame
	}{
		{push, frame{joinRef: "12", topic: "topic", event: "event", payload: protocol.Binary([]byte{1, 2})}},
		{reply, frame{joinRef: "12", ref: "123", topic: "topic", event: eventReply, status: "ok", payload: protocol.Binary([]byte{3})}},
		{bcast, frame{topic: "topic", event: "event", payload: protocol.Binary([]byte{4})}},
	} {
		f, err := decodeFrame(protocol.V2, tt.in, true)
		if err != nil {
			t.Fatal(err)
		}
		if f.joinRef != tt.want.joinRef || f.ref != tt.want.ref || f.topic != tt.want.topic || f.event != tt.want.event ||
			f.status != tt.want.status || string(f.payload.Bytes()) != string(tt.want.payload.Bytes()) || !f.payload.IsBinary() {
			t.Errorf("decode % x = %+v, want %+v", tt.in, f, tt.want)
		}
	}
	for _, bad := range [][]byte{nil, {0, 2, 5}, {1, 2, 3, 5, 2, '1'}, {7}} {
		if _, err := decodeFrame(protocol.V2, bad, true); err == nil {
			t.Errorf("decode % x: no error", bad)
		}
	}
	if _, err := decodeFrame(protocol.V1, bcast, true); err == nil {
		t.Error("a binary frame to a V1 client decoded")
	}
}

// The presence list follows phoenix.js's Presence.syncDiff: joins before
// leaves, metas by phx_ref, a key without metas gone.
func TestPresenceFold(t *testing.T) {
	t.Parallel()
	var v presenceView
	apply := func(event, payload string) {
		v.apply(&frame{event: event, payload: protocol.JSON([]byte(payload))})
	}
	refs := func(key string) []string {
		var out []string
		for _, m := range v.state[key].Metas {
			out = append(out, metaRef(m))
		}
		return out
	}

	// A diff before the state waits for it.
	apply("presence_diff", `{"joins":{"bob":{"metas":[{"phx_ref":"b1"}]}},"leaves":{}}`)
	if v.synced || len(v.pending) != 1 {
		t.Fatalf("view before the state: %+v", v)
	}
	apply("presence_state", `{"ann":{"metas":[{"phx_ref":"a1"}],"name":"Ann"}}`)
	if got := v.state.Keys(); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("keys %q", got)
	}
	if v.state["ann"].Extra["name"] != "Ann" {
		t.Errorf("extra %v", v.state["ann"].Extra)
	}

	// A second device; an update (leave and join in one diff); a leave of
	// an unknown key.
	apply("presence_diff", `{"joins":{"ann":{"metas":[{"phx_ref":"a2"}]}},"leaves":{}}`)
	apply("presence_diff", `{"joins":{"ann":{"metas":[{"phx_ref":"a3","phx_ref_prev":"a1"}]}},"leaves":{"ann":{"metas":[{"phx_ref":"a1"}]},"zed":{"metas":[{"phx_ref":"z"}]}}}`)
	if got := refs("ann"); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Errorf("ann's refs %q, want [a2 a3]", got)
	}
	apply("presence_diff", `{"joins":{},"leaves":{"bob":{"metas":[{"phx_ref":"b1"}]}}}`)
	if got := v.state.Keys(); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("keys after bob left %q", got)
	}

	apply("presence_diff", `{"joins":{"x":{}}}`)
	if v.err == "" {
		t.Error("a diff without metas was not reported")
	}
}
