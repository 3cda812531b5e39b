package protocol

import "testing"

// TestAllocs pins the allocation budget of the hot paths. It cannot run
// in parallel: testing.AllocsPerRun refuses to.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	push := []byte(`["1","2","room:lobby","new_msg",{"body":"hi"}]`)
	if n := testing.AllocsPerRun(100, func() { _, _ = V2.Decode(push, false) }); n > 3 {
		t.Errorf("V2 Decode push: %v allocs, want <= 3", n)
	}
	bin := hexBytes(0, 2, 3, 5, 5, "12", "123", "topic", "event", "efg")
	if n := testing.AllocsPerRun(100, func() { _, _ = V2.Decode(bin, true) }); n > 3 {
		t.Errorf("V2 Decode binary: %v allocs, want <= 3", n)
	}
	dst := make([]byte, 0, 256)
	p := JSON([]byte(`{"body":"hi"}`))
	if n := testing.AllocsPerRun(100, func() { _, _, _ = V2.AppendBroadcast(dst, "room:lobby", "new_msg", p) }); n != 0 {
		t.Errorf("V2 AppendBroadcast: %v allocs, want 0", n)
	}
	r := &Reply{JoinRef: StringRef("1"), Ref: StringRef("2"), Topic: "room:lobby", Status: "ok", Response: p}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = V2.AppendReply(dst, r) }); n != 0 {
		t.Errorf("V2 AppendReply: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = V1.AppendBroadcast(dst, "room:lobby", "new_msg", p) }); n != 0 {
		t.Errorf("V1 AppendBroadcast: %v allocs, want 0", n)
	}
}
