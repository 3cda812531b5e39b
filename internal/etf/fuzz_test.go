package etf

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds Decode the Phoenix vectors, their halves and mutations.
// Decode must not panic, must fail with one of the package's errors, and
// whatever it accepts must encode to canonical bytes that decode and
// encode again to the same bytes. The size limit is lowered so that a
// mutated zlib stream costs little.
func FuzzDecode(f *testing.F) {
	for _, m := range loadRedisVectors(f).Messages {
		f.Add(unhex(f, m.Hex))
	}
	seeds := []any{
		nil, true, Atom("é✓"), "bin", -1, 1 << 40, uint64(1 << 63), 0.5,
		[]any{1, 2}, []any{1000, "x", []any{}}, Tuple{Atom("user"), 42},
		map[string]any{"id": 7, "tags": []any{"a"}},
		map[any]any{Atom("id"): 7, 1.5: nil, 2: "x"},
		Tuple{Tuple{"data", 1764000000000, 86400}},
	}
	for _, s := range seeds {
		b, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(term(80, u32(2), zlibBytes(f, []byte{97, 1})))
	f.Add(term(108, u32(1), 97, 1, 108, u32(1), 97, 2, 106))

	limits := Limits{MaxSize: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data)
		for _, d := range [][]byte{data[:n/2], data[n/2:]} {
			_, err := limits.Decode(d)
			checkErr(t, err)
		}
		v, err := limits.Decode(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("decoded %x to %#v, which does not encode: %v", data, v, err)
		}
		v2, err := limits.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", enc, err)
		}
		enc2, err := Encode(v2)
		if err != nil {
			t.Fatalf("%#v does not encode: %v", v2, err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not canonical:\n%x\n%x", enc, enc2)
		}
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v wraps none of the package's errors", err)
	}
}
