package protocol

import "testing"

// docs/protocol.md, "V1 JSON" (v1_json_serializer_test.exs) and V1 details.

func TestV1Encode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		encode func([]byte) ([]byte, bool, error)
		want   string // exact bytes
		phx    string // what Phoenix sends, compared as JSON; "" = want
	}{
		{
			name: "10.8 #104 encode message",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendMessage(dst, &Message{Topic: "t", Event: "e", Payload: JSON([]byte(`"m"`))})
			},
			want: `{"topic":"t","event":"e","payload":"m","ref":null}`,
			phx:  `{"event":"e","payload":"m","ref":null,"topic":"t"}`,
		},
		{
			name: "10.8 #105 encode empty reply",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendReply(dst, &Reply{Topic: "t", Ref: StringRef("1"), Response: JSON([]byte("null"))})
			},
			want: `{"topic":"t","event":"phx_reply","payload":{"status":null,"response":null},"ref":"1"}`,
			phx:  `{"event":"phx_reply","payload":{"response":null,"status":null},"ref":"1","topic":"t"}`,
		},
		{
			name: "reply example from §3.1",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendReply(dst, &Reply{JoinRef: StringRef("9"), Ref: StringRef("1"), Topic: "room:1", Status: "ok"})
			},
			want: `{"topic":"room:1","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}`,
			phx:  `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"room:1"}`,
		},
		{
			name: "10.8 #108 fastlane broadcast",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendBroadcast(dst, "room:1", "new_msg", JSON([]byte(`{"body":"hi"}`)))
			},
			want: `{"topic":"room:1","event":"new_msg","payload":{"body":"hi"},"ref":null}`,
			phx:  `{"event":"new_msg","payload":{"body":"hi"},"ref":null,"topic":"room:1"}`,
		},
		{
			name: "no join_ref, numeric ref echoed as number",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendMessage(dst, &Message{JoinRef: "3", Ref: "7", Topic: "t", Event: "e"})
			},
			want: `{"topic":"t","event":"e","payload":{},"ref":7}`,
		},
		{
			name: "payload any JSON",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendBroadcast(dst, "t", "e", JSON([]byte(`[1,2]`)))
			},
			want: `{"topic":"t","event":"e","payload":[1,2],"ref":null}`,
		},
		{
			name: "escaped topic",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V1.AppendBroadcast(dst, "a\"b<c>\xff", "e", JSON(nil))
			},
			want: `{"topic":"a\"b<c>\ufffd","event":"e","payload":{},"ref":null}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, binary, err := tc.encode([]byte("prefix"))
			success(t, err)
			equal(t, "binary", binary, false)
			equal(t, "frame", string(got), "prefix"+tc.want)
			if tc.phx != "" {
				jsonEqual(t, string(got[len("prefix"):]), tc.phx)
			}
		})
	}
}

func TestV1EncodeBinaryRefused(t *testing.T) {
	t.Parallel()
	dst := []byte("keep")
	got, _, err := V1.AppendMessage(dst, &Message{Topic: "t", Event: "e", Payload: Binary([]byte{1})})
	errorIs(t, err, ErrBinaryNotSupported)
	equal(t, "dst", string(got), "keep")
	_, _, err = V1.AppendReply(dst, &Reply{Topic: "t", Status: "ok", Response: Binary(nil)})
	errorIs(t, err, ErrBinaryNotSupported)
	_, _, err = V1.AppendBroadcast(dst, "t", "e", Binary(nil))
	errorIs(t, err, ErrBinaryNotSupported)
}

func TestV1Decode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		binary bool
		want   msg
	}{
		{
			name: "10.8 #106 decode message",
			in:   `{"event":"e","payload":"m","ref":null,"topic":"t","join_ref":null}`,
			want: msg{Topic: "t", Event: "e", Payload: `"m"`},
		},
		{
			name: "string refs",
			in:   `{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`,
			want: msg{JoinRef: `"1"`, Ref: `"1"`, Topic: "room:lobby", Event: "phx_join", Payload: `{}`},
		},
		{
			name: "join_ref optional, numeric ref kept",
			in:   `{"topic":"t","event":"e","payload":{"a":[1]},"ref":7}`,
			want: msg{Ref: "7", Topic: "t", Event: "e", Payload: `{"a":[1]}`},
		},
		{
			name: "whitespace, extra keys, duplicates take the last",
			in:   " {\n \"x\" : [1,{}], \"topic\":\"a\", \"topic\" : \"b\" , \"event\":\"e\",\"payload\": null ,\"ref\": \"2\" } \n",
			want: msg{Ref: `"2"`, Topic: "b", Event: "e", Payload: `null`},
		},
		{
			name: "escaped keys and values",
			in:   `{"top\u0069c":"r\u00f6om\n","event":"\"e\"","payload":"x","ref":null}`,
			want: msg{Topic: "röom\n", Event: `"e"`, Payload: `"x"`},
		},
		{
			name:   "binary opcode is read as JSON",
			in:     `{"topic":"t","event":"e","payload":{},"ref":null}`,
			binary: true,
			want:   msg{Topic: "t", Event: "e", Payload: `{}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := V1.Decode([]byte(tc.in), tc.binary)
			success(t, err)
			equal(t, "message", view(m), tc.want)
		})
	}
}

func TestV1DecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"10.8 #107 V2 array", `[null,"1","phoenix","heartbeat",{}]`},
		{"string", `"hello"`},
		{"empty", ``},
		{"empty object", `{}`},
		{"missing ref", `{"topic":"t","event":"e","payload":{}}`},
		{"missing payload", `{"topic":"t","event":"e","ref":null}`},
		{"missing topic", `{"event":"e","payload":{},"ref":null}`},
		{"bad JSON", `{"topic":"t","event":"e","payload":{,"ref":null}`},
		{"trailing garbage", `{"topic":"t","event":"e","payload":{},"ref":null} x`},
		{"truncated", `{"topic":"t","event":"e","payload":{},"ref":nul`},
		{"bad key", `{topic:"t"}`},
		{"trailing comma", `{"topic":"t","event":"e","payload":{},"ref":null,}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := V1.Decode([]byte(tc.in), false)
			errorIs(t, err, ErrInvalidMessage)
		})
	}
}

func TestV1RoundTrip(t *testing.T) {
	t.Parallel()
	in := &Message{JoinRef: StringRef("1"), Ref: "12", Topic: "room:ü\"", Event: "new\tmsg", Payload: JSON([]byte(`{"body":[1,"x"]}`))}
	frame, _, err := V1.AppendMessage(nil, in)
	success(t, err)
	m, err := V1.Decode(frame, false)
	success(t, err)
	want := view(*in)
	want.JoinRef = "" // never sent
	equal(t, "message", view(m), want)
}
