package etf

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Limits bounds what Decode accepts. The zero value means the defaults.
type Limits struct {
	// MaxDepth is the deepest nesting of lists, tuples and maps accepted;
	// the outermost container is at depth 1. Zero means DefaultMaxDepth.
	MaxDepth int

	// MaxSize is the largest term accepted, in bytes, after
	// decompression for a compressed term. Zero means DefaultMaxSize.
	MaxSize int
}

// Decode decodes data, the output of :erlang.term_to_binary, with the
// default [Limits]. See the package documentation for the Go values it
// gives.
func Decode(data []byte) (any, error) {
	return DecodeAs[Atom, Tuple](Limits{}, data)
}

// Decode decodes data, the output of :erlang.term_to_binary, within l.
// The whole of data must be one term.
func (l Limits) Decode(data []byte) (any, error) {
	return DecodeAs[Atom, Tuple](l, data)
}

// DecodeAs is [Limits.Decode] giving atoms as A and tuples as T, for a
// package that exports atom and tuple types of its own.
func DecodeAs[A ~string, T ~[]any](l Limits, data []byte) (any, error) {
	maxDepth, maxSize := l.MaxDepth, l.MaxSize
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) == 0 || data[0] != version {
		return nil, fmt.Errorf("%w: missing version byte 131", ErrInvalid)
	}
	term := data[1:]
	if len(term) > 0 && term[0] == tagCompressed {
		var err error
		if term, err = inflate(term[1:], maxSize); err != nil {
			return nil, err
		}
	} else if len(term) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(term), maxSize)
	}
	d := decoder[A, T]{b: term, maxDepth: maxDepth, slots: len(term)}
	v, err := d.term()
	if err != nil {
		return nil, err
	}
	if d.off != len(term) {
		return nil, fmt.Errorf("%w: %d bytes after the term", ErrInvalid, len(term)-d.off)
	}
	return v, nil
}

// inflate decompresses the body of a compressed term (after tag 80): a
// 4-byte uncompressed size and a zlib stream. It allocates the size
// claimed once, and only when the stream could hold it: deflate expands
// at most 1032 times, so a short stream claiming megabytes is refused
// before anything is allocated, and a stream inflating past its claim is
// cut there (zlib bombs).
func inflate(b []byte, maxSize int) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: truncated compressed term", ErrInvalid)
	}
	size := uint64(binary.BigEndian.Uint32(b))
	z := b[4:]
	if size > uint64(maxSize) {
		return nil, fmt.Errorf("%w: compressed term of %d bytes, more than %d", ErrTooLarge, size, maxSize)
	}
	if size > maxDeflateRatio*uint64(len(z)) {
		return nil, fmt.Errorf("%w: %d bytes of zlib cannot inflate to %d", ErrInvalid, len(z), size)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed term: %v", ErrInvalid, err)
	}
	defer zr.Close()
	// One byte more than claimed, to notice a stream longer than its claim.
	out := make([]byte, size+1)
	if _, err := io.ReadFull(zr, out[:size]); err != nil {
		return nil, fmt.Errorf("%w: compressed term shorter than %d bytes: %v", ErrInvalid, size, err)
	}
	// The stream must end here, its checksum verified.
	if n, err := io.ReadFull(zr, out[size:]); n > 0 {
		return nil, fmt.Errorf("%w: compressed term longer than %d bytes", ErrInvalid, size)
	} else if err != io.EOF {
		return nil, fmt.Errorf("%w: compressed term: %v", ErrInvalid, err)
	}
	return out[:size], nil
}

// maxDeflateRatio is deflate's largest expansion (1032:1), rounded up.
const maxDeflateRatio = 1040

// decoder reads one term from b.
//
// Every element of a list, tuple or map takes at least one byte, so a
// valid term never declares more elements in total than it has bytes.
// slots counts what is left of that budget: declared counts are charged
// against it before anything is allocated, which bounds the allocation
// of a hostile term (a deep chain of containers each claiming millions of
// elements) by the size of the input.
type decoder[A ~string, T ~[]any] struct {
	b        []byte
	off      int
	depth    int
	maxDepth int
	slots    int
}

var errTruncated = fmt.Errorf("%w: truncated", ErrInvalid)

// maxPrealloc bounds the room made ahead for a container's elements:
// past it, room grows with the elements actually decoded, so that a
// count the bytes could only just hold costs little before it fails.
const maxPrealloc = 1024

func (d *decoder[A, T]) left() int { return len(d.b) - d.off }

func (d *decoder[A, T]) next(n int) ([]byte, error) {
	if n < 0 || d.left() < n {
		return nil, errTruncated
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder[A, T]) u8() (int, error) {
	if d.left() < 1 {
		return 0, errTruncated
	}
	d.off++
	return int(d.b[d.off-1]), nil
}

func (d *decoder[A, T]) u16() (int, error) {
	p, err := d.next(2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(p)), nil
}

func (d *decoder[A, T]) u32() (uint64, error) {
	p, err := d.next(4)
	if err != nil {
		return 0, err
	}
	return uint64(binary.BigEndian.Uint32(p)), nil
}

// claim charges n elements, each at least minBytes long, against the
// bytes left and the slot budget.
func (d *decoder[A, T]) claim(n uint64, minBytes int) (int, error) {
	if n*uint64(minBytes) > uint64(d.left()) || n > uint64(d.slots) {
		return 0, fmt.Errorf("%w: %d elements declared, %d bytes left", ErrInvalid, n, d.left())
	}
	d.slots -= int(n)
	return int(n), nil
}

// enter and leave track the nesting depth of containers.
func (d *decoder[A, T]) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrTooLarge, d.maxDepth)
	}
	return nil
}

func (d *decoder[A, T]) leave() { d.depth-- }

func (d *decoder[A, T]) term() (any, error) {
	tag, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch tag {
	case tagSmallInteger:
		n, err := d.u8()
		return int64(n), err
	case tagInteger:
		p, err := d.next(4)
		if err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(p))), nil
	case tagSmallBig:
		n, err := d.u8()
		if err != nil {
			return nil, err
		}
		return d.big(uint64(n))
	case tagLargeBig:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		return d.big(n)
	case tagNewFloat:
		p, err := d.next(8)
		if err != nil {
			return nil, err
		}
		return finite(math.Float64frombits(binary.BigEndian.Uint64(p)))
	case tagFloat:
		return d.oldFloat()
	case tagAtom:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		return d.latin1Atom(n)
	case tagSmallAtom:
		n, err := d.u8()
		if err != nil {
			return nil, err
		}
		return d.latin1Atom(n)
	case tagAtomUTF8:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		return d.utf8Atom(n)
	case tagSmallAtomUTF8:
		n, err := d.u8()
		if err != nil {
			return nil, err
		}
		return d.utf8Atom(n)
	case tagBinary:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		if n > uint64(d.left()) {
			return nil, errTruncated
		}
		p, _ := d.next(int(n))
		return string(p), nil
	case tagNil:
		return []any{}, nil
	case tagString:
		return d.charlist()
	case tagList:
		return d.list()
	case tagSmallTuple:
		n, err := d.u8()
		if err != nil {
			return nil, err
		}
		return d.tuple(uint64(n))
	case tagLargeTuple:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		return d.tuple(n)
	case tagMap:
		return d.mapTerm()
	}
	if name, ok := unsupportedTags[byte(tag)]; ok {
		return nil, fmt.Errorf("%w: %s (tag %d)", ErrUnsupported, name, tag)
	}
	return nil, fmt.Errorf("%w: unknown tag %d", ErrInvalid, tag)
}

// big reads the sign byte and n little-endian digits of SMALL_BIG_EXT or
// LARGE_BIG_EXT, as an int64 when the value fits.
func (d *decoder[A, T]) big(n uint64) (any, error) {
	if n > MaxBigBytes {
		return nil, fmt.Errorf("%w: integer of %d bytes", ErrTooLarge, n)
	}
	sign, err := d.u8()
	if err != nil {
		return nil, err
	}
	digits, err := d.next(int(n))
	if err != nil {
		return nil, err
	}
	neg := sign != 0 // Erlang reads any non-zero sign as negative.
	if n <= 8 {
		var u uint64
		for i := len(digits) - 1; i >= 0; i-- {
			u = u<<8 | uint64(digits[i])
		}
		switch {
		case !neg && u <= math.MaxInt64:
			return int64(u), nil
		case neg && u <= 1<<63:
			return -int64(u), nil // 1<<63 wraps to MinInt64, as it should
		}
	}
	be := make([]byte, n)
	for i, b := range digits {
		be[len(be)-1-i] = b
	}
	x := new(big.Int).SetBytes(be)
	if neg {
		x.Neg(x)
	}
	return x, nil
}

// oldFloat reads FLOAT_EXT: 31 bytes of "%.20e" text, NUL padded, which
// only very old nodes or minor_version 0 write.
func (d *decoder[A, T]) oldFloat() (any, error) {
	p, err := d.next(31)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	f, err := strconv.ParseFloat(string(p), 64)
	if err != nil {
		return nil, fmt.Errorf("%w: float %q", ErrInvalid, p)
	}
	return finite(f)
}

// finite refuses NaN and the infinities, as binary_to_term does.
func finite(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: non-finite float", ErrInvalid)
	}
	return f, nil
}

// atomValue maps the atoms true, false and nil to Go's values, and the
// others to A.
func atomValue[A ~string](name []byte) any {
	switch string(name) {
	case "true":
		return true
	case "false":
		return false
	case "nil":
		return nil
	}
	return A(name)
}

func (d *decoder[A, T]) latin1Atom(n int) (any, error) {
	if n > MaxAtomChars {
		return nil, fmt.Errorf("%w: atom of %d characters", ErrTooLarge, n)
	}
	p, err := d.next(n)
	if err != nil {
		return nil, err
	}
	ascii := true
	for _, c := range p {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return atomValue[A](p), nil
	}
	u := make([]byte, 0, 2*len(p))
	for _, c := range p {
		u = utf8.AppendRune(u, rune(c))
	}
	return A(u), nil
}

func (d *decoder[A, T]) utf8Atom(n int) (any, error) {
	if n > 4*MaxAtomChars {
		return nil, fmt.Errorf("%w: atom of %d bytes", ErrTooLarge, n)
	}
	p, err := d.next(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(p) {
		return nil, fmt.Errorf("%w: atom is not UTF-8", ErrInvalid)
	}
	if utf8.RuneCount(p) > MaxAtomChars {
		return nil, fmt.Errorf("%w: atom of more than %d characters", ErrTooLarge, MaxAtomChars)
	}
	return atomValue[A](p), nil
}

// charlist reads STRING_EXT, a list of integers 0..255, as []any.
func (d *decoder[A, T]) charlist() (any, error) {
	n, err := d.u16()
	if err != nil {
		return nil, err
	}
	if _, err := d.claim(uint64(n), 1); err != nil {
		return nil, err
	}
	// Counted as a level, as Encode counts every non-empty list.
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	p, _ := d.next(n)
	l := make([]any, n)
	for i, c := range p {
		l[i] = int64(c)
	}
	return l, nil
}

func (d *decoder[A, T]) list() (any, error) {
	n64, err := d.u32()
	if err != nil {
		return nil, err
	}
	if n64 >= uint64(d.left()) { // n elements and a tail
		return nil, errTruncated
	}
	n, err := d.claim(n64, 1)
	if err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	l := make([]any, 0, min(n, maxPrealloc))
	for range n {
		v, err := d.term()
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	if d.left() > 0 && d.b[d.off] == tagNil {
		d.off++
		return l, nil
	}
	// A tail that is itself a list still makes a proper list; any other
	// tail makes an improper one, which has no Go value.
	tail, err := d.term()
	if err != nil {
		return nil, err
	}
	rest, ok := tail.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: improper list", ErrUnsupported)
	}
	return append(l, rest...), nil
}

func (d *decoder[A, T]) tuple(n64 uint64) (any, error) {
	n, err := d.claim(n64, 1)
	if err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	t := make(T, 0, min(n, maxPrealloc))
	for range n {
		v, err := d.term()
		if err != nil {
			return nil, err
		}
		t = append(t, v)
	}
	return t, nil
}

// mapTerm reads MAP_EXT into a map[string]any while every key is a
// binary, and switches to a map[any]any at the first key that is not.
func (d *decoder[A, T]) mapTerm() (any, error) {
	n64, err := d.u32()
	if err != nil {
		return nil, err
	}
	n, err := d.claim(2*n64, 1)
	if err != nil {
		return nil, err
	}
	n /= 2
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	var (
		sm   = make(map[string]any, min(n, maxPrealloc))
		am   map[any]any
		bigs []*big.Int // big integer keys, compared by value
	)
	for i := range n {
		k, err := d.term()
		if err != nil {
			return nil, err
		}
		v, err := d.term()
		if err != nil {
			return nil, err
		}
		if s, ok := k.(string); ok && am == nil {
			sm[s] = v
			if len(sm) != i+1 {
				return nil, fmt.Errorf("%w: duplicate map key %q", ErrInvalid, s)
			}
			continue
		}
		switch k := k.(type) {
		case []any, T, map[string]any, map[any]any:
			return nil, fmt.Errorf("%w: map key of type %T", ErrUnsupported, k)
		case *big.Int:
			for _, b := range bigs {
				if b.Cmp(k) == 0 {
					return nil, fmt.Errorf("%w: duplicate map key %v", ErrInvalid, k)
				}
			}
			bigs = append(bigs, k)
		}
		if am == nil {
			am = make(map[any]any, min(n, maxPrealloc))
			for s, v := range sm {
				am[s] = v
			}
		}
		am[k] = v
		if len(am) != i+1 {
			return nil, fmt.Errorf("%w: duplicate map key %v", ErrInvalid, k)
		}
	}
	if am != nil {
		return am, nil
	}
	return sm, nil
}
