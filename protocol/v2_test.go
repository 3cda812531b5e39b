package protocol

import (
	"strings"
	"testing"
)

// docs/protocol.md, "V2 JSON" (v2_json_serializer_test.exs), text frames.

func TestV2Encode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		encode func([]byte) ([]byte, bool, error)
		want   string // exact bytes
		phx    string // what Phoenix sends, compared as JSON; "" = want
	}{
		{
			name: "10.9 #109 encode message",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendMessage(dst, &Message{Topic: "t", Event: "e", Payload: JSON([]byte(`{"m":1}`))})
			},
			want: `[null,null,"t","e",{"m":1}]`,
		},
		{
			name: "10.9 #111 encode reply",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendReply(dst, &Reply{Topic: "t", Response: JSON([]byte(`{"m":1}`))})
			},
			want: `[null,null,"t","phx_reply",{"status":null,"response":{"m":1}}]`,
			phx:  `[null,null,"t","phx_reply",{"response":{"m":1},"status":null}]`,
		},
		{
			name: "10.9 #113 fastlane broadcast",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendBroadcast(dst, "t", "e", JSON([]byte(`{"m":1}`)))
			},
			want: `[null,null,"t","e",{"m":1}]`,
		},
		{
			name: "channel push",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendMessage(dst, &Message{JoinRef: StringRef("3"), Topic: "room:lobby", Event: "new_msg", Payload: JSON([]byte(`{"body":"hi"}`))})
			},
			want: `["3",null,"room:lobby","new_msg",{"body":"hi"}]`,
		},
		{
			name: "phx_close, ref == join_ref, zero payload",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendMessage(dst, &Message{JoinRef: StringRef("3"), Ref: StringRef("3"), Topic: "room:lobby", Event: EventClose})
			},
			want: `["3","3","room:lobby","phx_close",{}]`,
		},
		{
			name: "heartbeat reply",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendReply(dst, &Reply{Ref: StringRef("5"), Topic: TopicPhoenix, Status: "ok"})
			},
			want: `[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]`,
			phx:  `[null,"5","phoenix","phx_reply",{"response":{},"status":"ok"}]`,
		},
		{
			name: "reply echoes numeric refs and takes any response",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendReply(dst, &Reply{JoinRef: "7", Ref: "null", Topic: "t", Status: "error", Response: JSON([]byte(`"nope"`))})
			},
			want: `[7,null,"t","phx_reply",{"status":"error","response":"nope"}]`,
		},
		{
			name: "escaped topic and event, HTML left alone",
			encode: func(dst []byte) ([]byte, bool, error) {
				return V2.AppendBroadcast(dst, "a\"b\\\n<&>", "\u2028", JSON([]byte(` {} `)))
			},
			want: `[null,null,"a\"b\\\n<&>","\u2028", {} ]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, binary, err := tc.encode([]byte("prefix"))
			success(t, err)
			equal(t, "binary", binary, false)
			equal(t, "frame", string(got), "prefix"+tc.want)
			phx := tc.phx
			if phx == "" {
				phx = tc.want
			}
			jsonEqual(t, string(got[len("prefix"):]), phx)
		})
	}
}

// 10.9 #110 and #114: pushes and broadcasts need an object payload.
func TestV2EncodeNotObject(t *testing.T) {
	t.Parallel()
	for _, p := range []string{`"m"`, `1`, `[1]`, `null`, ` true`} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			dst := []byte("keep")
			got, _, err := V2.AppendMessage(dst, &Message{Topic: "t", Event: "e", Payload: JSON([]byte(p))})
			errorIs(t, err, ErrPayloadNotObject)
			equal(t, "dst", string(got), "keep")
			got, _, err = V2.AppendBroadcast(dst, "t", "e", JSON([]byte(p)))
			errorIs(t, err, ErrPayloadNotObject)
			equal(t, "dst", string(got), "keep")
			_, _, err = V2.AppendReply(dst, &Reply{Topic: "t", Status: "ok", Response: JSON([]byte(p))})
			success(t, err)
		})
	}
}

func TestV2Decode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want msg
	}{
		{
			name: "10.9 #112 decode message",
			in:   `["1",null,"t","e",{"m":1}]`,
			want: msg{JoinRef: `"1"`, Topic: "t", Event: "e", Payload: `{"m":1}`},
		},
		{
			name: "phoenix.js heartbeat",
			in:   `[null,"1","phoenix","heartbeat",{}]`,
			want: msg{Ref: `"1"`, Topic: "phoenix", Event: "heartbeat", Payload: `{}`},
		},
		{
			name: "phoenix.js join",
			in:   `["3","3","room:lobby","phx_join",{}]`,
			want: msg{JoinRef: `"3"`, Ref: `"3"`, Topic: "room:lobby", Event: "phx_join", Payload: `{}`},
		},
		{
			name: "numeric refs keep their type",
			in:   `[7,12.5,"t","e",{}]`,
			want: msg{JoinRef: "7", Ref: "12.5", Topic: "t", Event: "e", Payload: `{}`},
		},
		{
			name: "six elements, the extra ignored",
			in:   `["1","2","t","e",{},{"extra":[1,2]}]`,
			want: msg{JoinRef: `"1"`, Ref: `"2"`, Topic: "t", Event: "e", Payload: `{}`},
		},
		{
			name: "payload string",
			in:   `[null,null,"t","e","hello"]`,
			want: msg{Topic: "t", Event: "e", Payload: `"hello"`},
		},
		{
			name: "payload number",
			in:   `[null,null,"t","e",-1.5e3]`,
			want: msg{Topic: "t", Event: "e", Payload: `-1.5e3`},
		},
		{
			name: "payload array",
			in:   `[null,null,"t","e",[1,"]",{"a":null}]]`,
			want: msg{Topic: "t", Event: "e", Payload: `[1,"]",{"a":null}]`},
		},
		{
			name: "payload null",
			in:   `[null,null,"t","e",null]`,
			want: msg{Topic: "t", Event: "e", Payload: `null`},
		},
		{
			name: "whitespace everywhere",
			in:   " \n[ \"1\" ,\t\"2\" , \"t\" , \"e\" , { \"a\" : 1 } ] \r\n",
			want: msg{JoinRef: `"1"`, Ref: `"2"`, Topic: "t", Event: "e", Payload: `{ "a" : 1 }`},
		},
		{
			name: "escapes in topic, event and refs",
			in:   `["a\"b","\u0031","r\u00f6om:\n1","new\/msg",{}]`,
			want: msg{JoinRef: `"a\"b"`, Ref: `"\u0031"`, Topic: "röom:\n1", Event: "new/msg", Payload: `{}`},
		},
		{
			name: "invalid UTF-8 in topic becomes U+FFFD",
			in:   "[null,null,\"a\xffb\",\"e\",{}]",
			want: msg{Topic: "a\uFFFDb", Event: "e", Payload: `{}`},
		},
		{
			name: "non-ASCII topic",
			in:   `[null,null,"salle:café","e",{}]`,
			want: msg{Topic: "salle:café", Event: "e", Payload: `{}`},
		},
		{
			name: "object refs are echoed as they came",
			in:   `[{"a":1},true,"t","e",{}]`,
			want: msg{JoinRef: `{"a":1}`, Ref: `true`, Topic: "t", Event: "e", Payload: `{}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := V2.Decode([]byte(tc.in), false)
			success(t, err)
			equal(t, "message", view(m), tc.want)
		})
	}
}

func TestV2DecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"whitespace", ` `},
		{"V1 object", `{"topic":"t","event":"e","payload":{},"ref":null}`},
		{"string", `"x"`},
		{"empty array", `[]`},
		{"short array", `[null,"1","phoenix","heartbeat"]`},
		{"one element", `[null]`},
		{"bad JSON in payload", `[null,null,"t","e",{"a":}]`},
		{"bad JSON in ref", `[nul,null,"t","e",{}]`},
		{"bad JSON in extra element", `[null,null,"t","e",{},{]`},
		{"unterminated", `[null,null,"t","e",{}`},
		{"truncated payload", `[null,null,"t","e",{"a":1`},
		{"trailing garbage", `[null,null,"t","e",{}]]`},
		{"missing comma", `[null null,"t","e",{}]`},
		{"trailing comma", `[null,null,"t","e",{},]`},
		{"bad escape in topic", `[null,null,"\x","e",{}]`},
		{"control char in event", "[null,null,\"t\",\"a\tb\",{}]"},
		{"leading comma", `[,null,null,"t","e",{}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := V2.Decode([]byte(tc.in), false)
			errorIs(t, err, ErrInvalidMessage)
		})
	}
}

func TestV2DecodeDeepPayload(t *testing.T) {
	t.Parallel()
	deep := func(n int) []byte {
		return []byte(`[null,null,"t","e",` + strings.Repeat("[", n) + strings.Repeat("]", n) + `]`)
	}
	_, err := V2.Decode(deep(9999), false) // 10000 levels with the frame
	success(t, err)
	_, err = V2.Decode(deep(10000), false)
	errorIs(t, err, ErrInvalidMessage)
}

// The payload is a subslice of the frame, not a copy.
func TestV2DecodeKeepsPayload(t *testing.T) {
	t.Parallel()
	data := []byte(`["1","2","t","e",{"a":1}]`)
	m, err := V2.Decode(data, false)
	success(t, err)
	data[len(data)-3] = '2'
	equal(t, "payload", string(m.Payload.Bytes()), `{"a":2}`)
	equal(t, "topic", m.Topic, "t") // copied
}

func TestV2RoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    Message
	}{
		{"strings", Message{JoinRef: StringRef("1"), Ref: StringRef("2"), Topic: "room:lobby", Event: "new_msg", Payload: JSON([]byte(`{"body":"hi"}`))}},
		{"numbers", Message{JoinRef: "7", Ref: "8", Topic: "t", Event: "e", Payload: JSON([]byte(`{}`))}},
		{"nulls", Message{Topic: "t", Event: "e", Payload: JSON([]byte(`{"a":[null]}`))}},
		{"escapes", Message{JoinRef: StringRef("a\"b"), Topic: "\x00\u2029é\\", Event: "<e>", Payload: JSON([]byte(`{}`))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			frame, _, err := V2.AppendMessage(nil, &tc.m)
			success(t, err)
			m, err := V2.Decode(frame, false)
			success(t, err)
			equal(t, "message", view(m), view(tc.m))
		})
	}
}
