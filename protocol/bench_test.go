package protocol

import "testing"

var (
	benchPush   = []byte(`["1","2","room:lobby","new_msg",{"body":"hi"}]`)
	benchV1     = []byte(`{"topic":"room:lobby","event":"new_msg","payload":{"body":"hi"},"ref":"2","join_ref":"1"}`)
	benchBinary = hexBytes(0x00, 0x02, 0x03, 0x05, 0x05, "12", "123", "topic", "event", 101, 102, 103)
	benchBody   = JSON([]byte(`{"body":"hi"}`))
	sinkMessage Message
)

func benchDecode(b *testing.B, s Serializer, data []byte, binary bool) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m, err := s.Decode(data, binary)
		if err != nil {
			b.Fatal(err)
		}
		sinkMessage = m
	}
}

func BenchmarkV2DecodePush(b *testing.B)   { benchDecode(b, V2, benchPush, false) }
func BenchmarkV2DecodeBinary(b *testing.B) { benchDecode(b, V2, benchBinary, true) }
func BenchmarkV1Decode(b *testing.B)       { benchDecode(b, V1, benchV1, false) }

func benchBroadcast(b *testing.B, s Serializer) {
	b.ReportAllocs()
	dst := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		dst, _, err = s.AppendBroadcast(dst[:0], "room:lobby", "new_msg", benchBody)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkV2AppendBroadcast(b *testing.B) { benchBroadcast(b, V2) }
func BenchmarkV1AppendBroadcast(b *testing.B) { benchBroadcast(b, V1) }

func BenchmarkV2AppendReply(b *testing.B) {
	b.ReportAllocs()
	r := &Reply{JoinRef: StringRef("1"), Ref: StringRef("2"), Topic: "room:lobby", Status: "ok", Response: benchBody}
	dst := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		dst, _, err = V2.AppendReply(dst[:0], r)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}
