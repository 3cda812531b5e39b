package chanlink_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/pyrehq/pyre/internal/chanlink"
	"github.com/pyrehq/pyre/protocol"
)

func TestToPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{nil, `{}`},
		{protocol.JSON([]byte(`[1]`)), `[1]`},
		{json.RawMessage(`"s"`), `"s"`},
		{map[string]int{"a": 1}, `{"a":1}`},
		{struct {
			A int `json:"a"`
		}{2}, `{"a":2}`},
		{"text", `"text"`},
	}
	for _, tt := range tests {
		p, err := chanlink.Payload(tt.in)
		if err != nil || string(p.Bytes()) != tt.want {
			t.Errorf("ToPayload(%#v) = %s, %v; want %s", tt.in, p.Bytes(), err, tt.want)
		}
	}
	b := protocol.Binary([]byte{1})
	if p, err := chanlink.Payload(b); err != nil || !p.IsBinary() {
		t.Errorf("ToPayload(binary) = %v, %v", p, err)
	}
	if _, err := chanlink.Payload(func() {}); err == nil {
		t.Error("ToPayload(func) did not fail")
	}
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	if m, err := chanlink.Broadcast("t", "e", map[string]int{"a": 1}); err != nil || m.Topic != "t" || m.Event != "e" || string(m.Payload.Bytes()) != `{"a":1}` {
		t.Fatalf("NewMessage = %+v, %v", m, err)
	}
	if _, err := chanlink.Broadcast("t", "e", protocol.Binary([]byte{1})); err != nil {
		t.Fatalf("binary: %v", err)
	}
	for _, bad := range []any{[]int{1}, "s", 1, json.RawMessage(`null`)} {
		if _, err := chanlink.Broadcast("t", "e", bad); !errors.Is(err, protocol.ErrPayloadNotObject) {
			t.Errorf("NewMessage(%v): %v, want ErrPayloadNotObject", bad, err)
		}
	}
}
