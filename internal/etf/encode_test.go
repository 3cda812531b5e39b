package etf

import (
	"bytes"
	"math"
	"math/big"
	"strings"
	"testing"
)

type role string
type level uint8

func TestEncode(t *testing.T) {
	t.Parallel()
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	huge := new(big.Int).Lsh(big.NewInt(1), 8*300) // 301 bytes: LARGE_BIG_EXT
	hugeBytes := append([]byte{111, 0, 0, 1, 45, 0}, make([]byte, 300)...)
	hugeBytes = append(hugeBytes, 1)
	bytes255 := make([]any, 300)
	for i := range bytes255 {
		bytes255[i] = i % 256
	}
	tests := []struct {
		name string
		in   any
		want []byte
	}{
		{"nil", nil, unhex(t, "836400036e696c")},
		{"true", true, unhex(t, "8364000474727565")},
		{"false", false, term(100, u16(5), "false")},
		{"atom", Atom("admin"), unhex(t, "8364000561646d696e")},
		{"atom latin1", Atom("ét"), term(100, u16(2), 0xe9, "t")},
		{"atom utf8", Atom("✓"), term(119, 3, "✓")},
		{"atom utf8 long", Atom(strings.Repeat("✓", 100)), term(118, u16(300), strings.Repeat("✓", 100))},
		{"empty atom", Atom(""), term(100, u16(0))},
		{"string", "user:42", unhex(t, "836d00000007757365723a3432")},
		{"bytes", []byte{1, 2}, term(109, u32(2), 1, 2)},
		{"byte array", [2]byte{1, 2}, term(109, u32(2), 1, 2)},
		{"named string", role("admin"), term(109, u32(5), "admin")},
		{"zero", 0, term(97, 0)},
		{"255", 255, term(97, 255)},
		{"256", 256, term(98, u32(256))},
		{"-1", -1, term(98, u32(-1))},
		{"int8", int8(-7), unhex(t, "8362fffffff9")},
		{"max int32", int32(math.MaxInt32), term(98, u32(math.MaxInt32))},
		{"max int32 + 1", int64(math.MaxInt32) + 1, term(110, 4, 0, 0, 0, 0, 0x80)},
		{"min int32", int64(math.MinInt32), term(98, u32(math.MinInt32))},
		{"min int32 - 1", int64(math.MinInt32) - 1, term(110, 4, 1, 1, 0, 0, 0x80)},
		{"signed_at ms", int64(1764000000000), term(110, 6, 0, unhex(t, "00e897b69a01"))},
		{"max int64", int64(math.MaxInt64), term(110, 8, 0, unhex(t, "ffffffffffffff7f"))},
		{"min int64", int64(math.MinInt64), term(110, 8, 1, unhex(t, "0000000000000080"))},
		{"max uint64", uint64(math.MaxUint64), term(110, 8, 0, unhex(t, "ffffffffffffffff"))},
		{"uint8", uint8(200), term(97, 200)},
		{"named uint", level(3), term(97, 3)},
		{"big small", big.NewInt(42), term(97, 42)},
		{"big 2^64", two64, term(110, 9, 0, unhex(t, "000000000000000001"))},
		{"big -2^64", new(big.Int).Neg(two64), term(110, 9, 1, unhex(t, "000000000000000001"))},
		{"big 2^2400", huge, term(hugeBytes)},
		{"float", 1.25, unhex(t, "83463ff4000000000000")},
		{"float32", float32(3.5), term(70, unhex(t, "400c000000000000"))},
		{"negative zero", math.Copysign(0, -1), term(70, unhex(t, "8000000000000000"))},
		{"empty list", []any{}, term(106)},
		{"nil list", []any(nil), term(106)},
		{"charlist", []any{1, int64(2), uint8(200)}, term(107, u16(3), 1, 2, 200)},
		{"ints", []int{1, 2}, term(107, u16(2), 1, 2)},
		{"ints over 255", []int{1, 256}, term(108, u32(2), 97, 1, 98, u32(256), 106)},
		{"long charlist", make([]any, 65536), nil}, // checked below: nils, not bytes
		{"list", []any{1, "two", 3.5}, unhex(t, "836c0000000361016d0000000374776f46400c0000000000006a")},
		{"strings", []string{"a"}, term(108, u32(1), 109, u32(1), "a", 106)},
		{"300 bytes as a charlist", bytes255, nil},
		{"tuple", Tuple{Atom("user"), 42}, unhex(t, "83680264000475736572612a")},
		{"empty tuple", Tuple{}, term(104, 0)},
		{"large tuple", make(Tuple, 256), append(term(105, u32(256)), bytes.Repeat(term(100, u16(3), "nil")[1:], 256)...)},
		{"map of binaries", map[string]any{"role": "admin", "id": 7},
			unhex(t, "8374000000026d00000002696461076d00000004726f6c656d0000000561646d696e")},
		{"map of atoms", map[Atom]any{"name": "ann", "id": 7},
			unhex(t, "837400000002640002696461076400046e616d656d00000003616e6e")},
		{"map of strings", map[string]string{"b": "2", "a": "1"},
			term(116, u32(2), 109, u32(1), "a", 109, u32(1), "1", 109, u32(1), "b", 109, u32(1), "2")},
		{"map in term order", map[any]any{"b": 1, Atom("a"): 2, 2.0: 3, 7: 4, nil: 5, true: 6, two64: 7, -1: 8},
			term(116, u32(8),
				98, u32(-1), 97, 8, // integers first, by value
				97, 7, 97, 4,
				110, 9, 0, unhex(t, "000000000000000001"), 97, 7,
				70, unhex(t, "4000000000000000"), 97, 3, // then floats
				100, u16(1), "a", 97, 2, // then atoms, by name
				100, u16(3), "nil", 97, 5,
				100, u16(4), "true", 97, 6,
				109, u32(1), "b", 97, 1, // then binaries
			)},
		{"empty map", map[string]any{}, term(116, u32(0))},
		{"interface slice holding nil", []error{nil}, term(108, u32(1), 100, u16(3), "nil", 106)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Encode(tt.in)
			success(t, err)
			if tt.want != nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("got  %x\nwant %x", got, tt.want)
			}
			switch tt.name {
			case "long charlist":
				if got[1] != tagList {
					t.Fatalf("65536 elements: tag %d, want LIST_EXT", got[1])
				}
			case "300 bytes as a charlist":
				if got[1] != tagString {
					t.Fatalf("tag %d, want STRING_EXT", got[1])
				}
			}
			// What Encode writes decodes, and encodes again to the same bytes.
			v, err := Decode(got)
			success(t, err)
			again, err := Encode(v)
			success(t, err)
			if !bytes.Equal(again, got) {
				t.Fatalf("not canonical:\n got %x\nthen %x", got, again)
			}
		})
	}
}

// TestRoundTrip encodes every Go type Encode takes and checks what
// Decode gives back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"int", 42, int64(42)},
		{"int64", int64(-1 << 40), int64(-1 << 40)},
		{"uint64 above int64", uint64(1 << 63), new(big.Int).SetUint64(1 << 63)},
		{"big int", two64, two64},
		{"big int that fits", big.NewInt(-5), int64(-5)},
		{"float", 0.1, 0.1},
		{"string", "zoë ✓", "zoë ✓"},
		{"bytes", []byte("raw"), "raw"},
		{"atom", Atom("admin"), Atom("admin")},
		{"atom true", Atom("true"), true},
		{"atom latin1", Atom("ÿ"), Atom("ÿ")},
		{"list", []any{nil, false, "x", []any{}}, []any{nil, false, "x", []any{}}},
		{"charlist", []any{104, 105}, []any{int64(104), int64(105)}},
		{"typed slice", []float64{1.5}, []any{1.5}},
		{"tuple", Tuple{Atom("ok"), Tuple{}}, Tuple{Atom("ok"), Tuple{}}},
		{"map of binaries", map[string]any{"a": map[string]any{}}, map[string]any{"a": map[string]any{}}},
		{"map of atoms", map[Atom]int{"a": 1}, map[any]any{Atom("a"): int64(1)}},
		{"map of ints", map[int]string{1: "x"}, map[any]any{int64(1): "x"}},
		{"map of named strings", map[role]int{"admin": 1}, map[string]any{"admin": int64(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Encode(tt.in)
			success(t, err)
			got, err := Decode(b)
			success(t, err)
			deepEqual(t, got, tt.want)
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	deep := []any{}
	for range DefaultMaxDepth + 1 {
		deep = []any{deep, 1000}
	}
	x := 1
	tests := []struct {
		name string
		in   any
		want error
	}{
		{"struct", struct{ A int }{1}, ErrUnsupported},
		{"pointer", &x, ErrUnsupported},
		{"nil pointer", (*int)(nil), ErrUnsupported},
		{"channel", make(chan int), ErrUnsupported},
		{"func", func() {}, ErrUnsupported},
		{"nil big", (*big.Int)(nil), ErrUnsupported},
		{"NaN", math.NaN(), ErrUnsupported},
		{"infinity", math.Inf(-1), ErrUnsupported},
		{"NaN in a list", []any{math.NaN()}, ErrUnsupported},
		{"atom not UTF-8", Atom("\xff"), ErrUnsupported},
		{"atom too long", Atom(strings.Repeat("a", 256)), ErrTooLarge},
		{"big too large", new(big.Int).Lsh(big.NewInt(1), 8*MaxBigBytes), ErrTooLarge},
		{"struct key", map[struct{}]int{{}: 1}, ErrUnsupported},
		{"array key", map[[1]int]int{{1}: 1}, ErrUnsupported},
		{"NaN key", map[float64]int{math.NaN(): 1}, ErrUnsupported},
		{"same term twice", map[any]any{1: "a", int64(1): "b"}, ErrUnsupported},
		{"true twice", map[any]any{true: 1, Atom("true"): 2}, ErrUnsupported},
		{"cyclic", cyclic, ErrTooLarge},
		{"too deep", deep, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dst := []byte("keep")
			got, err := AppendEncode(dst, tt.in)
			errorIs(t, err, tt.want)
			if string(got) != "keep" {
				t.Fatalf("dst changed to %q", got)
			}
		})
	}
}

func TestAppendEncode(t *testing.T) {
	t.Parallel()
	got, err := AppendEncode([]byte("x"), 1)
	success(t, err)
	if !bytes.Equal(got, []byte{'x', version, tagSmallInteger, 1}) {
		t.Fatalf("got %x", got)
	}
}

type myAtom string
type myTuple []any

// TestCustomTypes checks DecodeAs and AppendEncodeAs, which give and take
// another package's atom and tuple types.
func TestCustomTypes(t *testing.T) {
	t.Parallel()
	in := map[myAtom]any{"user": myTuple{myAtom("admin"), Atom("x"), []myAtom{"a"}}}
	b, err := AppendEncodeAs[myAtom, myTuple](nil, in)
	success(t, err)
	std, err := Encode(map[Atom]any{"user": Tuple{Atom("admin"), Atom("x"), []any{Atom("a")}}})
	success(t, err)
	if !bytes.Equal(b, std) {
		t.Fatalf("got  %x\nwant %x", b, std)
	}
	got, err := DecodeAs[myAtom, myTuple](Limits{}, b)
	success(t, err)
	deepEqual(t, got, map[any]any{myAtom("user"): myTuple{myAtom("admin"), myAtom("x"), []any{myAtom("a")}}})
	// Without As, a custom atom type is only a named string: a binary.
	b, err = Encode(myAtom("admin"))
	success(t, err)
	deepEqual(t, b, term(109, u32(5), "admin"))
}
