package wstest

import "testing"

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v1           bool
		joinRef, ref any
		topic, ev, p string
		want         string
	}{
		{false, "11", "1", "room:1", "phx_join", `{}`, `["11","1","room:1","phx_join",{}]`},
		{false, nil, 7, "t", "e", "", `[null,7,"t","e",{}]`},
		{true, nil, "1", "t", "e", `{"a":1}`, `{"topic":"t","event":"e","payload":{"a":1},"ref":"1"}`},
		{true, "x", nil, "t", "e", `{}`, `{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":"x"}`},
	}
	for _, tt := range tests {
		if got := Encode(tt.v1, tt.joinRef, tt.ref, tt.topic, tt.ev, tt.p); got != tt.want {
			t.Errorf("Encode = %s, want %s", got, tt.want)
		}
	}
	if got := string(BinaryPush("12", "123", "topic", "event", []byte("efg"))); got != "\x00\x02\x03\x05\x0512123topiceventefg" {
		t.Errorf("BinaryPush = %q", got)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v1   bool
		f    Frame
		want Msg
		err  bool
	}{
		{"V2", false, Frame{Data: []byte(`["11",null,"t","e",{"a":1}]`)}, M("11", Null, "t", "e", `{"a":1}`), false},
		{"V2 numeric ref", false, Frame{Data: []byte(`[null,12,"t","e",{}]`)}, M(Null, "12", "t", "e", `{}`), false},
		{"V2 short", false, Frame{Data: []byte(`[null,"1","t","e"]`)}, Msg{}, true},
		{"V2 bad ref", false, Frame{Data: []byte(`[{},"1","t","e",{}]`)}, Msg{}, true},
		{"V1", true, Frame{Data: []byte(`{"topic":"t","event":"e","payload":[1],"ref":"3"}`)}, M(Null, "3", "t", "e", `[1]`), false},
		{"V1 with join_ref", true, Frame{Data: []byte(`{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":null}`)}, Msg{}, true},
		{"V1 missing key", true, Frame{Data: []byte(`{"topic":"t","event":"e","payload":{}}`)}, Msg{}, true},
		{"V1 binary", true, Frame{Data: []byte{2, 1, 1, 't', 'e'}, Binary: true}, Msg{}, true},
		{"push", false, Frame{Data: []byte("\x00\x02\x05\x0512topiceventefg"), Binary: true},
			Msg{JoinRef: "12", Ref: Null, Topic: "topic", Event: "event", Payload: "efg", Binary: true}, false},
		{"reply", false, Frame{Data: []byte("\x01\x02\x03\x05\x0212123topicokefg"), Binary: true},
			Msg{JoinRef: "12", Ref: "123", Topic: "topic", Event: "phx_reply", Status: "ok", Payload: "efg", Binary: true}, false},
		{"broadcast", false, Frame{Data: []byte("\x02\x05\x05topiceventefg"), Binary: true},
			Msg{JoinRef: Null, Ref: Null, Topic: "topic", Event: "event", Payload: "efg", Binary: true}, false},
		{"truncated", false, Frame{Data: []byte("\x02\x05\x05top"), Binary: true}, Msg{}, true},
		{"unknown kind", false, Frame{Data: []byte("\x03"), Binary: true}, Msg{}, true},
	}
	for _, tt := range tests {
		got, err := Decode(tt.v1, tt.f)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if err == nil && !Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	a := Reply("1", "2", "t", "ok", `{"b":1,"a":[1,2]}`)
	if b := M("1", "2", "t", "phx_reply", `{ "response": {"a":[1,2],"b":1}, "status":"ok" }`); !Equal(a, b) {
		t.Error("JSON payloads differing only in layout are not equal")
	}
	for _, b := range []Msg{
		Reply(Null, "2", "t", "ok", `{"b":1,"a":[1,2]}`),
		Reply("1", "3", "t", "ok", `{"b":1,"a":[1,2]}`),
		Reply("1", "2", "u", "ok", `{"b":1,"a":[1,2]}`),
		Reply("1", "2", "t", "error", `{"b":1,"a":[1,2]}`),
		Reply("1", "2", "t", "ok", `{"b":1,"a":[2,1]}`),
		Reply("1", "2", "t", "ok", `not json`),
	} {
		if Equal(a, b) {
			t.Errorf("%v equals %v", a, b)
		}
	}
	if !JSONEqual(`null`, `null`) || JSONEqual(`{}`, `[]`) || JSONEqual(`1`, `"1"`) {
		t.Error("JSONEqual")
	}
}
