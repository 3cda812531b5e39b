package loadgen

import "testing"

func TestParseFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                       string
		in                         string
		ok                         bool
		joinRef, ref, topic, event string
		payload                    string
	}{
		{"push", `["1","2","room:a","shout",{"bn":3,"bt":4}]`, true, "1", "2", "room:a", "shout", `{"bn":3,"bt":4}`},
		{"broadcast with null refs and spaces", ` [ null , null , "room:a" , "shout" , {"a":[1,"]"]} ] `, true, "", "", "room:a", "shout", `{"a":[1,"]"]}`},
		{"reply", `["1","1","bench:x","phx_reply",{"response":{},"status":"ok"}]`, true, "1", "1", "bench:x", "phx_reply", `{"response":{},"status":"ok"}`},
		{"not an array", `{"topic":"x"}`, false, "", "", "", "", ""},
		{"four elements", `["1","2","room:a","shout"]`, false, "", "", "", "", ""},
		{"escaped topic", `["1","2","room:\"a","shout",{}]`, false, "", "", "", "", ""},
		{"number ref", `[1,"2","room:a","shout",{}]`, false, "", "", "", "", ""},
		{"truncated", `["1","2","room:a","sh`, false, "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, ok := parseFrame([]byte(tt.in))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			got := [5]string{string(f.joinRef), string(f.ref), string(f.topic), string(f.event), string(f.payload)}
			want := [5]string{tt.joinRef, tt.ref, tt.topic, tt.event, tt.payload}
			if got != want || f.size != len(tt.in) {
				t.Fatalf("parseFrame = %q (size %d), want %q", got, f.size, want)
			}
		})
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	t.Parallel()
	p := appendPayload(nil, 42, 1234567890, 3)
	if string(p) != `{"bn":42,"bt":1234567890,"bx":"xxx"}` {
		t.Fatalf("appendPayload = %s", p)
	}
	b := appendFrame(nil, "", "7", "room:x", "echo", p)
	if string(b) != `[null,"7","room:x","echo",{"bn":42,"bt":1234567890,"bx":"xxx"}]` {
		t.Fatalf("appendFrame = %s", b)
	}
	f, ok := parseFrame(b)
	if !ok || f.joinRef != nil || string(f.ref) != "7" {
		t.Fatalf("parseFrame(appendFrame) = %+v, %v", f, ok)
	}
	if n, ok := intField(f.payload, "bn"); !ok || n != 42 {
		t.Fatalf(`intField("bn") = %d, %v`, n, ok)
	}
	if string(appendFrame(nil, "1", "1", "phoenix", "heartbeat", nil)) != `["1","1","phoenix","heartbeat",{}]` {
		t.Fatal("an empty payload is not {}")
	}
}

func TestIntFieldAndReplyOK(t *testing.T) {
	t.Parallel()
	reply := []byte(`{"response": {"bn" : -12, "bt":99}, "status" : "ok"}`)
	if n, ok := intField(reply, "bn"); !ok || n != -12 {
		t.Fatalf(`intField("bn") = %d, %v`, n, ok)
	}
	if _, ok := intField(reply, "bx"); ok {
		t.Fatal("a missing key was found")
	}
	if _, ok := intField([]byte(`{"bn":"7"}`), "bn"); ok {
		t.Fatal("a string was read as an integer")
	}
	if !replyOK(reply) {
		t.Fatal("replyOK(ok reply) = false")
	}
	if replyOK([]byte(`{"response":{"reason":"x"},"status":"error"}`)) {
		t.Fatal("replyOK(error reply) = true")
	}
}
