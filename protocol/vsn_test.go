package protocol

import "testing"

func TestNegotiate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vsn  string
		want Serializer // nil: ErrUnsupportedVersion
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
		{"2.0.0 pre-release is below 2.0.0", "2.0.0-rc.1", nil},
		{"1.1.0", "1.1.0", nil},
		{"2.1.0", "2.1.0", nil},
		{"3.0.0", "3.0.0", nil},
		{"0.9.0", "0.9.0", nil},
		{"123.1.1", "123.1.1", nil},
		{"2.0", "2.0", nil},
		{"2", "2", nil},
		{"abc", "abc", nil},
		{"four parts", "2.0.0.0", nil},
		{"leading zero", "02.0.0", nil},
		{"leading zero patch", "2.0.01", nil},
		{"empty pre-release", "2.0.1-", nil},
		{"empty build", "2.0.0+", nil},
		{"bad pre-release char", "2.0.1-rc_1", nil},
		{"numeric pre-release leading zero", "2.0.1-01", nil},
		{"spaces", " 2.0.0", nil},
		{"sign", "+2.0.0", nil},
		{"huge patch", "2.0.99999999999999999999999", V2},
		{"empty part", "2..0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Negotiate(tc.vsn)
			if tc.want == nil {
				errorIs(t, err, ErrUnsupportedVersion)
				equal(t, "serializer", got, nil)
				return
			}
			success(t, err)
			equal(t, "serializer", got, tc.want)
		})
	}
}

func TestSerializerIndex(t *testing.T) {
	t.Parallel()
	equal(t, "Index(V1)", Index(V1), 0)
	equal(t, "Index(V2)", Index(V2), 1)
	equal(t, "V1.Version", V1.Version(), "1.0.0")
	equal(t, "V2.Version", V2.Version(), "2.0.0")
	for _, s := range []Serializer{V1, V2} {
		if Index(s) >= NumSerializers {
			t.Fatalf("Index(%s) = %d >= NumSerializers", s.Version(), Index(s))
		}
	}
}
