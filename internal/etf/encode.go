package etf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"slices"
	"unicode/utf8"
)

// Encode returns v in the external term format, as
// :erlang.term_to_binary(v) would on Erlang/OTP 25. See the package
// documentation for the Go values it takes.
func Encode(v any) ([]byte, error) {
	return AppendEncodeAs[Atom, Tuple](nil, v)
}

// AppendEncode appends the encoding of v, version byte included, to dst.
// On error it returns dst unchanged.
func AppendEncode(dst []byte, v any) ([]byte, error) {
	return AppendEncodeAs[Atom, Tuple](dst, v)
}

// AppendEncodeAs is [AppendEncode] taking values of A as atoms and of T
// as tuples, besides [Atom] and [Tuple].
func AppendEncodeAs[A ~string, T ~[]any](dst []byte, v any) ([]byte, error) {
	e := encoder[A, T]{b: append(dst, version)}
	if err := e.term(v); err != nil {
		return dst, err
	}
	return e.b, nil
}

type encoder[A ~string, T ~[]any] struct {
	b     []byte
	depth int
}

func (e *encoder[A, T]) enter() error {
	e.depth++
	if e.depth > DefaultMaxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrTooLarge, DefaultMaxDepth)
	}
	return nil
}

func (e *encoder[A, T]) leave() { e.depth-- }

func (e *encoder[A, T]) term(v any) error {
	switch x := v.(type) {
	case A: // the first matching case wins when A is Atom
		return e.atom(string(x))
	case T:
		return e.tuple(x)
	case nil:
		e.atomLatin1("nil")
	case bool:
		if x {
			e.atomLatin1("true")
		} else {
			e.atomLatin1("false")
		}
	case Atom:
		return e.atom(string(x))
	case string:
		return e.binary(x)
	case []byte:
		return e.binary(string(x))
	case int:
		e.int(int64(x))
	case int64:
		e.int(x)
	case int32:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case uint:
		e.uint(uint64(x))
	case uint64:
		e.uint(x)
	case uint32:
		e.int(int64(x))
	case uint16:
		e.int(int64(x))
	case uint8:
		e.int(int64(x))
	case *big.Int:
		return e.big(x)
	case float64:
		return e.float(x)
	case float32:
		return e.float(float64(x))
	case Tuple:
		return e.tuple(x)
	case []any:
		return e.list(len(x), func(i int) any { return x[i] })
	case map[string]any:
		return e.stringMap(x)
	default:
		return e.reflect(reflect.ValueOf(v))
	}
	return nil
}

// reflect encodes the other slices, arrays and maps, and named types of
// basic kinds.
func (e *encoder[A, T]) reflect(rv reflect.Value) error {
	switch rv.Kind() {
	case reflect.Bool:
		return e.term(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(rv.Uint())
		return nil
	case reflect.Float32, reflect.Float64:
		return e.float(rv.Float())
	case reflect.String:
		return e.binary(rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return e.binary(string(b))
		}
		return e.list(rv.Len(), func(i int) any { return rv.Index(i).Interface() })
	case reflect.Map:
		return e.anyMap(rv)
	case reflect.Interface:
		if rv.IsNil() {
			return e.term(nil)
		}
		return e.term(rv.Elem().Interface())
	}
	if !rv.IsValid() {
		return e.term(nil)
	}
	return fmt.Errorf("%w: Go type %s", ErrUnsupported, rv.Type())
}

func (e *encoder[A, T]) u16(n int) { e.b = binary.BigEndian.AppendUint16(e.b, uint16(n)) }
func (e *encoder[A, T]) u32(n int) { e.b = binary.BigEndian.AppendUint32(e.b, uint32(n)) }

// int writes n as SMALL_INTEGER_EXT, INTEGER_EXT or SMALL_BIG_EXT, the
// smallest that holds it, as Erlang does.
func (e *encoder[A, T]) int(n int64) {
	switch {
	case n >= 0 && n <= math.MaxUint8:
		e.b = append(e.b, tagSmallInteger, byte(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		e.b = append(e.b, tagInteger)
		e.u32(int(int32(n)))
	case n < 0:
		e.smallBig(1, uint64(^n)+1)
	default:
		e.smallBig(0, uint64(n))
	}
}

func (e *encoder[A, T]) uint(u uint64) {
	if u <= math.MaxInt64 {
		e.int(int64(u))
		return
	}
	e.smallBig(0, u)
}

func (e *encoder[A, T]) smallBig(sign byte, mag uint64) {
	n := (bits.Len64(mag) + 7) / 8
	e.b = append(e.b, tagSmallBig, byte(n), sign)
	for range n {
		e.b = append(e.b, byte(mag))
		mag >>= 8
	}
}

func (e *encoder[A, T]) big(x *big.Int) error {
	if x == nil {
		return fmt.Errorf("%w: nil *big.Int", ErrUnsupported)
	}
	if x.IsInt64() {
		e.int(x.Int64())
		return nil
	}
	mag := x.Bytes() // big-endian absolute value
	if len(mag) > MaxBigBytes {
		return fmt.Errorf("%w: integer of %d bytes", ErrTooLarge, len(mag))
	}
	var sign byte
	if x.Sign() < 0 {
		sign = 1
	}
	if len(mag) <= math.MaxUint8 {
		e.b = append(e.b, tagSmallBig, byte(len(mag)), sign)
	} else {
		e.b = append(e.b, tagLargeBig)
		e.u32(len(mag))
		e.b = append(e.b, sign)
	}
	for i := len(mag) - 1; i >= 0; i-- {
		e.b = append(e.b, mag[i])
	}
	return nil
}

func (e *encoder[A, T]) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%w: non-finite float %v", ErrUnsupported, f)
	}
	e.b = append(e.b, tagNewFloat)
	e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(f))
	return nil
}

func (e *encoder[A, T]) binary(s string) error {
	if uint64(len(s)) > math.MaxUint32 {
		return fmt.Errorf("%w: binary of %d bytes", ErrTooLarge, len(s))
	}
	e.b = append(e.b, tagBinary)
	e.u32(len(s))
	e.b = append(e.b, s...)
	return nil
}

// atomLatin1 writes an atom known to be short ASCII.
func (e *encoder[A, T]) atomLatin1(name string) {
	e.b = append(e.b, tagAtom)
	e.u16(len(name))
	e.b = append(e.b, name...)
}

// atom writes name as OTP 25 does: ATOM_EXT when every character fits
// Latin-1, SMALL_ATOM_UTF8_EXT (or ATOM_UTF8_EXT) otherwise.
func (e *encoder[A, T]) atom(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: atom %q is not UTF-8", ErrUnsupported, name)
	}
	chars, latin1 := 0, true
	for _, r := range name {
		chars++
		if r > 0xff {
			latin1 = false
		}
	}
	if chars > MaxAtomChars {
		return fmt.Errorf("%w: atom of %d characters", ErrTooLarge, chars)
	}
	switch {
	case latin1:
		e.b = append(e.b, tagAtom)
		e.u16(chars)
		for _, r := range name {
			e.b = append(e.b, byte(r))
		}
	case len(name) <= math.MaxUint8:
		e.b = append(e.b, tagSmallAtomUTF8, byte(len(name)))
		e.b = append(e.b, name...)
	default:
		e.b = append(e.b, tagAtomUTF8)
		e.u16(len(name))
		e.b = append(e.b, name...)
	}
	return nil
}

func (e *encoder[A, T]) tuple(t []any) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if len(t) <= math.MaxUint8 {
		e.b = append(e.b, tagSmallTuple, byte(len(t)))
	} else {
		e.b = append(e.b, tagLargeTuple)
		e.u32(len(t))
	}
	for _, v := range t {
		if err := e.term(v); err != nil {
			return err
		}
	}
	return nil
}

// list writes n elements: NIL_EXT when empty, STRING_EXT when they are
// all integers 0..255 and fewer than 65536, LIST_EXT otherwise, as
// Erlang does.
func (e *encoder[A, T]) list(n int, at func(int) any) error {
	if n == 0 {
		e.b = append(e.b, tagNil)
		return nil
	}
	if uint64(n) > math.MaxUint32 {
		return fmt.Errorf("%w: list of %d elements", ErrTooLarge, n)
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if n <= math.MaxUint16 {
		start := len(e.b)
		e.b = append(e.b, tagString)
		e.u16(n)
		for i := range n {
			c, ok := byteValue(at(i))
			if !ok {
				e.b = e.b[:start]
				goto list
			}
			e.b = append(e.b, c)
		}
		return nil
	}
list:
	e.b = append(e.b, tagList)
	e.u32(n)
	for i := range n {
		if err := e.term(at(i)); err != nil {
			return err
		}
	}
	e.b = append(e.b, tagNil)
	return nil
}

// byteValue reports whether v is an integer 0..255, which Erlang puts in
// a STRING_EXT.
func byteValue(v any) (byte, bool) {
	switch x := v.(type) {
	case int:
		return byte(x), x >= 0 && x <= math.MaxUint8
	case int64:
		return byte(x), x >= 0 && x <= math.MaxUint8
	case uint8:
		return x, true
	case string, Atom, nil, bool, float64, []any, Tuple, map[string]any:
		return 0, false
	case *big.Int:
		if x != nil && x.IsInt64() {
			return byteValue(x.Int64())
		}
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := rv.Int()
		return byte(n), n >= 0 && n <= math.MaxUint8
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := rv.Uint()
		return byte(n), n <= math.MaxUint8
	}
	return 0, false
}

// stringMap writes a map of binaries, keys in byte order, which is
// Erlang's term order for binaries.
func (e *encoder[A, T]) stringMap(m map[string]any) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, tagMap)
	e.u32(len(m))
	for _, k := range keys {
		if err := e.binary(k); err != nil {
			return err
		}
		if err := e.term(m[k]); err != nil {
			return err
		}
	}
	return nil
}

// anyMap writes any other map, keys in Erlang term order. Keys that are
// the same term in Erlang (int 1 and int64 1, true and Atom("true")) are
// refused rather than written twice.
func (e *encoder[A, T]) anyMap(rv reflect.Value) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	type entry struct {
		key any // canonical
		val reflect.Value
	}
	entries := make([]entry, 0, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		k, err := canonical[A](it.Key().Interface())
		if err != nil {
			return err
		}
		entries = append(entries, entry{k, it.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return compare(a.key, b.key) })
	for i := 1; i < len(entries); i++ {
		if compare(entries[i-1].key, entries[i].key) == 0 {
			return fmt.Errorf("%w: two map keys are the term %v", ErrUnsupported, entries[i].key)
		}
	}
	e.b = append(e.b, tagMap)
	e.u32(len(entries))
	for _, en := range entries {
		if err := e.term(en.key); err != nil {
			return err
		}
		if err := e.term(en.val.Interface()); err != nil {
			return err
		}
	}
	return nil
}
