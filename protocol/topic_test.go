package protocol

import "testing"

// A topic or an event that is not a JSON string is not an invalid frame:
// Phoenix does not check their types, finds no channel for such a topic,
// and its "unmatched topic" reply echoes the topic as it was sent.
func TestNonStringTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ser       Serializer
		in        string
		topic     string
		event     string
		wantReply string
	}{
		{"V2 number", V2, `["5","1",123,"phx_join",{}]`, "123", "phx_join",
			`[null,"1",123,"phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]`},
		{"V2 null", V2, `[null,"2",null,"e",{}]`, "null", "e",
			`[null,"2",null,"phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]`},
		{"V2 object and array event", V2, `[null,"3",{"a":[1]},["e"],{}]`, `{"a":[1]}`, `["e"]`,
			`[null,"3",{"a":[1]},"phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]`},
		{"V1 number", V1, `{"topic":12.5,"event":null,"payload":{},"ref":"4"}`, "12.5", "null",
			`{"topic":12.5,"event":"phx_reply","payload":{"status":"error","response":{"reason":"unmatched topic"}},"ref":"4"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := tc.ser.Decode([]byte(tc.in), false)
			success(t, err)
			equal(t, "Topic", m.Topic, tc.topic)
			equal(t, "TopicJSON", m.TopicJSON, true)
			equal(t, "Event", m.Event, tc.event)
			r := Reply{Ref: m.Ref, Topic: m.Topic, TopicJSON: m.TopicJSON, Status: "error",
				Response: JSON([]byte(`{"reason":"unmatched topic"}`))}
			got, _, err := tc.ser.AppendReply(nil, &r)
			success(t, err)
			equal(t, "reply", string(got), tc.wantReply)
		})
	}
	// A string topic that reads like a number stays a string.
	m, err := V2.Decode([]byte(`[null,"1","123","e",{}]`), false)
	success(t, err)
	equal(t, "TopicJSON", m.TopicJSON, false)
	got, _, err := V2.AppendMessage(nil, &m)
	success(t, err)
	equal(t, "message", string(got), `[null,"1","123","e",{}]`)
}
