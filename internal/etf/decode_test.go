package etf

import (
	"bytes"
	"compress/zlib"
	"math"
	"math/big"
	"runtime"
	"strings"
	"testing"
)

func mustBig(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return x
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		want any
	}{
		{"small integer", term(97, 255), int64(255)},
		{"integer", term(98, u32(-7)), int64(-7)},
		{"integer max", term(98, u32(math.MaxInt32)), int64(math.MaxInt32)},
		{"small big", unhex(t, "836e0800d20a1feb8ca954ab"), mustBig("12345678901234567890")},
		{"small big fits int64", term(110, 6, 0, unhex(t, "00e897b69a01")), int64(1764000000000)},
		{"small big negative", term(110, 8, 1, unhex(t, "0000000000000080")), int64(math.MinInt64)},
		{"small big below int64", term(110, 8, 1, unhex(t, "0100000000000080")), mustBig("-9223372036854775809")},
		{"small big zero digits", term(110, 0, 0), int64(0)},
		{"large big", term(111, u32(9), 0, unhex(t, "000000000000000001")), mustBig("18446744073709551616")},
		{"new float", unhex(t, "83463ff4000000000000"), 1.25},
		{"old float", term(99, "1.50000000000000000000e+00", make([]byte, 5)), 1.5},
		{"atom", unhex(t, "8364000561646d696e"), Atom("admin")},
		{"atom latin1", term(100, u16(2), 0xe9, "t"), Atom("ét")},
		{"small atom", term(115, 2, "ok"), Atom("ok")},
		{"atom utf8", term(118, u16(3), "✓"), Atom("✓")},
		{"small atom utf8", term(119, 5, "zoë!"), Atom("zoë!")},
		{"true", unhex(t, "8364000474727565"), true},
		{"false utf8", term(119, 5, "false"), false},
		{"nil", unhex(t, "836400036e696c"), nil},
		{"binary", unhex(t, "836d00000007757365723a3432"), "user:42"},
		{"empty binary", term(109, u32(0)), ""},
		{"empty list", term(106), []any{}},
		{"charlist", term(107, u16(3), 1, 2, 200), []any{int64(1), int64(2), int64(200)}},
		{"list", unhex(t, "836c0000000361016d0000000374776f46400c0000000000006a"), []any{int64(1), "two", 3.5}},
		{"list with a list tail", term(108, u32(1), 97, 1, 108, u32(1), 97, 2, 106), []any{int64(1), int64(2)}},
		{"list with a charlist tail", term(108, u32(1), 97, 1, 107, u16(1), 2), []any{int64(1), int64(2)}},
		{"tuple", unhex(t, "83680264000475736572612a"), Tuple{Atom("user"), int64(42)}},
		{"empty tuple", term(104, 0), Tuple{}},
		{"large tuple", term(105, u32(2), 97, 1, 97, 2), Tuple{int64(1), int64(2)}},
		{"map of binaries", unhex(t, "8374000000026d00000002696461076d00000004726f6c656d0000000561646d696e"),
			map[string]any{"id": int64(7), "role": "admin"}},
		{"map of atoms", unhex(t, "837400000002640002696461076400046e616d656d00000003616e6e"),
			map[any]any{Atom("id"): int64(7), Atom("name"): "ann"}},
		{"map of mixed keys", term(116, u32(3), 109, u32(1), "a", 97, 1, 97, 1, 97, 2, 70, unhex(t, "3ff0000000000000"), 97, 3),
			map[any]any{"a": int64(1), int64(1): int64(2), 1.0: int64(3)}},
		{"map with nil, bool and big keys", term(116, u32(3), 100, u16(3), "nil", 97, 1, 100, u16(4), "true", 97, 2, 110, 9, 0, unhex(t, "000000000000000001"), 97, 3),
			map[any]any{nil: int64(1), true: int64(2), mustBig("18446744073709551616"): int64(3)}},
		{"empty map", term(116, u32(0)), map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(tt.data)
			success(t, err)
			if m, ok := tt.want.(map[any]any); ok {
				equalAnyMap(t, got, m)
				return
			}
			deepEqual(t, got, tt.want)
		})
	}
}

// equalAnyMap compares maps whose keys may be *big.Int, which DeepEqual
// compares by pointer.
func equalAnyMap(t *testing.T, got any, want map[any]any) {
	t.Helper()
	g, ok := got.(map[any]any)
	if !ok {
		t.Fatalf("got %#v, want a map[any]any", got)
	}
	if len(g) != len(want) {
		t.Fatalf("got %#v, want %#v", g, want)
	}
	gb, err := Encode(g)
	success(t, err)
	wb, err := Encode(want)
	success(t, err)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("got %#v, want %#v", g, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 256)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrInvalid},
		{"no version", []byte{97, 1}, ErrInvalid},
		{"wrong version", []byte{130, 97, 1}, ErrInvalid},
		{"version only", term(), ErrInvalid},
		{"unknown tag", term(1), ErrInvalid},
		{"trailing bytes", term(97, 1, 0), ErrInvalid},
		{"truncated integer", term(98, 0, 0), ErrInvalid},
		{"truncated float", term(70, 0, 0, 0), ErrInvalid},
		{"NaN", term(70, unhex(t, "7ff8000000000000")), ErrInvalid},
		{"infinity", term(70, unhex(t, "7ff0000000000000")), ErrInvalid},
		{"old float garbage", term(99, "not a float", make([]byte, 20)), ErrInvalid},
		{"pid", term(88, 100, u16(1), "a", u32(1), u32(0), u32(0)), ErrUnsupported},
		{"reference", term(90, u16(1), 100, u16(1), "a", u32(0), u32(0)), ErrUnsupported},
		{"fun", term(112, u32(0)), ErrUnsupported},
		{"export", term(113), ErrUnsupported},
		{"bitstring", term(77, u32(1), 3, 0xe0), ErrUnsupported},
		{"nested compressed", term(104, 1, 80, u32(1)), ErrUnsupported},
		{"improper list", term(108, u32(1), 97, 1, 97, 2), ErrUnsupported},
		{"list key", term(116, u32(1), 108, u32(1), 97, 1, 106, 97, 1), ErrUnsupported},
		{"tuple key", term(116, u32(1), 104, 0, 97, 1), ErrUnsupported},
		{"duplicate binary key", term(116, u32(2), 109, u32(1), "a", 97, 1, 109, u32(1), "a", 97, 2), ErrInvalid},
		{"duplicate atom key", term(116, u32(2), 100, u16(1), "a", 97, 1, 100, u16(1), "a", 97, 2), ErrInvalid},
		{"duplicate big key", term(116, u32(2), 110, 9, 0, unhex(t, "000000000000000001"), 97, 1, 110, 9, 0, unhex(t, "000000000000000001"), 97, 2), ErrInvalid},
		{"atom too long", term(100, u16(256), long), ErrTooLarge},
		{"utf8 atom too long", term(118, u16(256), long), ErrTooLarge},
		{"utf8 atom of 256 characters", term(118, u16(512), strings.Repeat("é", 256)), ErrTooLarge},
		{"atom not UTF-8", term(119, 1, 0xff), ErrInvalid},
		{"big too large", term(111, u32(MaxBigBytes+1), 0), ErrTooLarge},
		{"huge binary", term(109, u32(-1), "abc"), ErrInvalid},
		{"huge list", term(108, u32(-1), 97, 1, 106), ErrInvalid},
		{"huge charlist", term(107, u16(65535), 1, 2), ErrInvalid},
		{"huge tuple", term(105, u32(-1), 97, 1), ErrInvalid},
		{"huge map", term(116, u32(-1), 97, 1, 97, 1), ErrInvalid},
		{"huge big", term(111, u32(MaxBigBytes), 0, 1), ErrInvalid},
		{"compressed truncated size", term(80, 0, 0), ErrInvalid},
		{"compressed not zlib", term(80, u32(2), "garbage"), ErrInvalid},
		{"compressed too large", term(80, u32(DefaultMaxSize+1), zlibBytes(t, []byte{97, 1})), ErrTooLarge},
		{"compressed shorter than said", term(80, u32(3), zlibBytes(t, []byte{97, 1})), ErrInvalid},
		{"compressed longer than said", term(80, u32(1), zlibBytes(t, []byte{97, 1})), ErrInvalid},
		{"compressed truncated stream", term(80, u32(2), zlibBytes(t, []byte{97, 1})[:5]), ErrInvalid},
		{"compressed trailing bytes", term(80, u32(3), zlibBytes(t, []byte{97, 1, 0})), ErrInvalid},
		{"compressed claim beyond deflate's ratio", term(80, u32(1<<20), zlibBytes(t, []byte{97, 1})), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := Decode(tt.data)
			errorIs(t, err, tt.want)
			if v != nil {
				t.Fatalf("got %#v with the error", v)
			}
		})
	}
}

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	success(t, zw.Close())
	return buf.Bytes()
}

func TestDecodeCompressed(t *testing.T) {
	t.Parallel()
	plain := unhex(t, "8374000000026d00000002696461076d00000004726f6c656d0000000561646d696e")
	data := term(80, u32(len(plain)-1), zlibBytes(t, plain[1:]))
	got, err := Decode(data)
	success(t, err)
	deepEqual(t, got, map[string]any{"id": int64(7), "role": "admin"})
}

func TestDecodeEveryPrefix(t *testing.T) {
	t.Parallel()
	for _, m := range loadRedisVectors(t).Messages {
		data := unhex(t, m.Hex)
		for i := range data {
			if _, err := Decode(data[:i]); err == nil {
				t.Fatalf("%s: prefix of %d bytes decoded", m.Name, i)
			}
		}
	}
}

func TestDecodeDepth(t *testing.T) {
	t.Parallel()
	nest := func(n int) []byte {
		b := []byte{version}
		for range n {
			b = append(b, tagSmallTuple, 1)
		}
		return append(b, tagNil)
	}
	_, err := Decode(nest(DefaultMaxDepth))
	success(t, err)
	_, err = Decode(nest(DefaultMaxDepth + 1))
	errorIs(t, err, ErrTooLarge)
	_, err = Decode(nest(1 << 20))
	errorIs(t, err, ErrTooLarge)
	_, err = Limits{MaxDepth: 2}.Decode(nest(3))
	errorIs(t, err, ErrTooLarge)

	// Nothing is ever deeper than Encode writes: a value Decode accepts
	// at the limit encodes again.
	v, err := Decode(nest(DefaultMaxDepth))
	success(t, err)
	_, err = Encode(v)
	success(t, err)
}

func TestDecodeMaxSize(t *testing.T) {
	t.Parallel()
	data := term(109, u32(100), strings.Repeat("x", 100))
	_, err := Limits{MaxSize: 104}.Decode(data)
	errorIs(t, err, ErrTooLarge)
	_, err = Limits{MaxSize: 105}.Decode(data)
	success(t, err)
}

// allocated returns the bytes f allocates. Callers must not run in
// parallel with other tests.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeHostileAllocation checks that hostile input cannot make
// Decode allocate much more than its own size: declared counts that the
// bytes cannot hold, at every level of a deep chain, and zlib bombs.
// Not parallel, so the allocation count is this test's alone.
func TestDecodeHostileAllocation(t *testing.T) {
	// A chain of lists, each claiming as many elements as bytes are left.
	const n = 64 << 10
	chain := []byte{version}
	for len(chain) < n {
		left := n - len(chain)
		chain = append(chain, tagList)
		chain = append(chain, u32(left-6)...)
	}
	// Maps and tuples doing the same.
	maps := []byte{version}
	for len(maps) < n {
		maps = append(maps, tagMap)
		maps = append(maps, u32((n-len(maps))/2-3)...)
		maps = append(maps, tagLargeTuple)
		maps = append(maps, u32(n-len(maps)-5)...)
	}
	// 4 MiB of zeros (4 KiB of zlib) behind a small claim, a huge claim
	// and a claim at the limit, here 1 MiB.
	limits := Limits{MaxSize: 1 << 20}
	z := zlibBytes(t, make([]byte, 4<<20))
	bomb := append(term(80, u32(1000)), z...)
	bombDeclared := append(term(80, u32(1<<30)), z...)
	bombWithinLimit := append(term(80, u32(limits.MaxSize)), z...)

	tests := []struct {
		name  string
		data  []byte
		limit uint64
	}{
		{"list chain", chain, 8 * n},
		{"map and tuple chain", maps, 8 * n},
		{"zlib bomb, small size", bomb, 256 << 10},
		{"zlib bomb, huge size", bombDeclared, 256 << 10},
		{"zlib bomb, size at the limit", bombWithinLimit, 1<<20 + 256<<10},
	}
	for _, tt := range tests {
		var err error
		got := allocated(func() { _, err = limits.Decode(tt.data) })
		if err == nil {
			t.Fatalf("%s: decoded", tt.name)
		}
		t.Logf("%s: %d bytes of input, %d allocated: %v", tt.name, len(tt.data), got, err)
		if got > tt.limit {
			t.Errorf("%s: allocated %d bytes for %d bytes of input (%v), limit %d", tt.name, got, len(tt.data), err, tt.limit)
		}
	}
}
