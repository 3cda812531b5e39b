package etf

import "errors"

// Atom is an Erlang atom, such as Elixir's :admin, kept apart from strings
// (Erlang binaries). The atoms true, false and nil decode as Go's true,
// false and nil instead.
type Atom string

// Tuple is an Erlang tuple, such as Elixir's {:user, 42}.
type Tuple []any

// Sentinel errors. Encode and Decode wrap them with detail, so test for
// them with [errors.Is].
var (
	// ErrInvalid is returned by Decode for bytes that are not a term: a
	// missing version byte, an unknown tag, a truncated term, trailing
	// bytes, a broken zlib stream, an invalid atom or float.
	ErrInvalid = errors.New("etf: invalid term")

	// ErrUnsupported is returned for a valid term or Go value that has no
	// counterpart on the other side: a pid or fun to decode, a struct or
	// a NaN to encode.
	ErrUnsupported = errors.New("etf: unsupported term")

	// ErrTooLarge is returned for a term beyond a limit: nesting depth,
	// decompressed size, atom length or integer size.
	ErrTooLarge = errors.New("etf: term too large")
)

// Limits and defaults.
const (
	// DefaultMaxDepth is the nesting depth of lists, tuples and maps that
	// Decode accepts by default, and that Encode always accepts.
	DefaultMaxDepth = 256

	// DefaultMaxSize is the size in bytes of a term, once decompressed,
	// that Decode accepts by default.
	DefaultMaxSize = 16 << 20

	// MaxAtomChars is Erlang's limit on the length of an atom.
	MaxAtomChars = 255

	// MaxBigBytes bounds the magnitude of an integer, in bytes (8192
	// bits). Erlang allows far more; nothing Phoenix sends comes close.
	MaxBigBytes = 1024
)

// External term format tags.
const (
	version = 131

	tagNewFloat      = 70
	tagBitBinary     = 77
	tagCompressed    = 80
	tagAtomCacheRef  = 82
	tagNewPid        = 88
	tagNewPort       = 89
	tagNewerRef      = 90
	tagSmallInteger  = 97
	tagInteger       = 98
	tagFloat         = 99
	tagAtom          = 100
	tagReference     = 101
	tagPort          = 102
	tagPid           = 103
	tagSmallTuple    = 104
	tagLargeTuple    = 105
	tagNil           = 106
	tagString        = 107
	tagList          = 108
	tagBinary        = 109
	tagSmallBig      = 110
	tagLargeBig      = 111
	tagNewFun        = 112
	tagExport        = 113
	tagNewReference  = 114
	tagSmallAtom     = 115
	tagMap           = 116
	tagFun           = 117
	tagAtomUTF8      = 118
	tagSmallAtomUTF8 = 119
	tagV4Port        = 120
	tagLocal         = 121
)

// unsupportedTags names the Erlang terms Decode knows but refuses.
var unsupportedTags = map[byte]string{
	tagBitBinary:    "bitstring",
	tagAtomCacheRef: "atom cache reference",
	tagNewPid:       "pid",
	tagPid:          "pid",
	tagNewPort:      "port",
	tagPort:         "port",
	tagV4Port:       "port",
	tagNewerRef:     "reference",
	tagReference:    "reference",
	tagNewReference: "reference",
	tagNewFun:       "fun",
	tagFun:          "fun",
	tagExport:       "fun",
	tagLocal:        "local term",
	tagCompressed:   "nested compressed term",
}
