package protocol

import "testing"

func TestNegotiate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vsn  string
		want Serializer // 0: ErrUnsupportedVersion
	}{
		{"missing", "", V1},
		{"1.0.0", "1.0.0", V1},
		{"1.0.5", "1.0.5", V1},
		{"1.0.1 pre-release", "1.0.1-rc.1", V1},
		{"1.0.0 build", "1.0.0+build.5", V1},
		{"2.0.0", "2.0.0", V2},
		{"2.0.9", "2.0.9", V2},
		{"2.0.0 build", "2.0.0+20240101", V2},
		{"2.0.1 pre and build", "2.0.1-alpha-1.2+b", V2},
		{"2.0.0 pre-release is below 2.0.0", "2.0.0-rc.1", 0},
		{"1.1.0", "1.1.0", 0},
		{"2.1.0", "2.1.0", 0},
		{"3.0.0", "3.0.0", 0},
		{"0.9.0", "0.9.0", 0},
		{"123.1.1", "123.1.1", 0},
		{"2.0", "2.0", 0},
		{"2", "2", 0},
		{"abc", "abc", 0},
		{"four parts", "2.0.0.0", 0},
		{"leading zero", "02.0.0", 0},
		{"leading zero patch", "2.0.01", 0},
		{"empty pre-release", "2.0.1-", 0},
		{"empty build", "2.0.0+", 0},
		{"bad pre-release char", "2.0.1-rc_1", 0},
		{"numeric pre-release leading zero", "2.0.1-01", 0},
		{"spaces", " 2.0.0", 0},
		{"sign", "+2.0.0", 0},
		{"huge patch", "2.0.99999999999999999999999", V2},
		{"empty part", "2..0", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Negotiate(tc.vsn)
			if tc.want == 0 {
				errorIs(t, err, ErrUnsupportedVersion)
				equal(t, "serializer", got, Serializer(0))
				return
			}
			success(t, err)
			equal(t, "serializer", got, tc.want)
		})
	}
}

func TestSerializerClosedSet(t *testing.T) {
	t.Parallel()
	equal(t, "V1.Version", V1.Version(), "1.0.0")
	equal(t, "V2.Version", V2.Version(), "2.0.0")
	equal(t, "V1.String", V1.String(), "V1")
	for _, s := range []Serializer{0, 3, 255} {
		equal(t, "Version", s.Version(), "")
		_, err := s.Decode([]byte(`[null,"1","phoenix","heartbeat",{}]`), false)
		errorIs(t, err, ErrUnsupportedVersion)
		_, _, err = s.AppendMessage(nil, &Message{Topic: "t", Event: "e"})
		errorIs(t, err, ErrUnsupportedVersion)
		_, _, err = s.AppendReply(nil, &Reply{Topic: "t"})
		errorIs(t, err, ErrUnsupportedVersion)
		_, _, err = s.AppendBroadcast(nil, "t", "e", Payload{})
		errorIs(t, err, ErrUnsupportedVersion)
	}
}
