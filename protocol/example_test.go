package protocol_test

import (
	"fmt"

	"github.com/pyrehq/pyre/protocol"
)

func ExampleNegotiate() {
	for _, vsn := range []string{"", "1.0.0", "2.0.0", "2.0", "3.0.0"} {
		s, err := protocol.Negotiate(vsn)
		if err != nil {
			fmt.Printf("%q: %v\n", vsn, err)
			continue
		}
		fmt.Printf("%q: serializer %s\n", vsn, s.Version())
	}
	// Output:
	// "": serializer 1.0.0
	// "1.0.0": serializer 1.0.0
	// "2.0.0": serializer 2.0.0
	// "2.0": protocol: unsupported vsn "2.0"
	// "3.0.0": protocol: unsupported vsn "3.0.0"
}

func ExampleSerializer_AppendBroadcast() {
	payload := protocol.JSON([]byte(`{"body":"hi"}`))
	frame, binary, err := protocol.V2.AppendBroadcast(nil, "room:lobby", "new_msg", payload)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s binary=%v\n", frame, binary)

	// A binary payload makes a binary frame.
	frame, binary, _ = protocol.V2.AppendBroadcast(frame[:0], "room:lobby", "img", protocol.Binary([]byte{0xCA, 0xFE}))
	fmt.Printf("% x binary=%v\n", frame, binary)
	// Output:
	// [null,null,"room:lobby","new_msg",{"body":"hi"}] binary=false
	// 02 0a 03 72 6f 6f 6d 3a 6c 6f 62 62 79 69 6d 67 ca fe binary=true
}

func ExampleSerializer_Decode() {
	data := []byte(`["3","4","room:lobby","new_msg",{"body":"hi"}]`)
	m, err := protocol.V2.Decode(data, false)
	if err != nil {
		panic(err)
	}
	// Refs hold JSON text; String gives their Go value.
	fmt.Println(string(m.JoinRef), m.Ref.String(), m.Topic, m.Event, string(m.Payload.Bytes()))

	// Reply with the client's refs, echoed with their JSON type.
	frame, _, _ := protocol.V2.AppendReply(nil, &protocol.Reply{
		JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Status: "ok",
	})
	fmt.Printf("%s\n", frame)
	// Output:
	// "3" 4 room:lobby new_msg {"body":"hi"}
	// ["3","4","room:lobby","phx_reply",{"status":"ok","response":{}}]
}
