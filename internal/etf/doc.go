// Package etf encodes and decodes the part of Erlang's external term format
// (what :erlang.term_to_binary writes) that Phoenix puts on the wire: the
// payload of a Phoenix.Token, and the messages phoenix_pubsub_redis
// publishes. It does no I/O.
//
// # Go values
//
// [Decode] gives, and [Encode] takes, these Go values:
//
//	Erlang / Elixir             Go
//	integer                     int64; *big.Int when it does not fit
//	float                       float64
//	binary ("text")             string
//	atom (:admin)               Atom
//	true, false, nil (atoms)    true, false, nil
//	list, charlist              []any (a charlist is a list of int64)
//	tuple ({:user, 42})         Tuple
//	map, all keys binaries      map[string]any
//	map, any other keys         map[any]any (atom keys are Atom values)
//
// Encode also takes every Go integer type, float32, []byte (a binary),
// other slices, arrays and maps of supported values, and named types of
// those kinds. It refuses structs, pointers other than *big.Int,
// channels and functions, non-finite floats and nested values deeper
// than the depth limit.
//
// Decode refuses what has no Go value above: pids, ports, references,
// funs, bitstrings and improper lists ([ErrUnsupported]), and map keys Go
// cannot hash (lists, tuples and maps as keys).
//
// A package that exports atom and tuple types of its own, as package
// token does, uses [DecodeAs] and [AppendEncodeAs] with them instead of
// [Atom] and [Tuple], so that its users never see this package's types.
//
// # Canonical form
//
// Encode writes what term_to_binary writes on Erlang/OTP 25 (the
// default minor_version 1): the smallest integer encoding, lists of
// integers 0..255 as STRING_EXT, atoms that fit Latin-1 as ATOM_EXT and
// others as SMALL_ATOM_UTF8_EXT, and map keys in Erlang term order, which
// is also OTP 25's order for maps of up to 32 keys. Larger maps, and
// atoms written by OTP 26 and later (SMALL_ATOM_UTF8_EXT), differ from
// Erlang's bytes but decode the same on both sides.
//
// # Limits
//
// Decode is meant for bytes from the network. It checks every declared
// length against the bytes left before allocating and grows containers
// with the elements actually decoded, so the memory it uses is a small
// multiple of the term's size. A compressed term is inflated into one
// buffer of its declared size, allocated only when the declared size is
// at most [Limits.MaxSize] and the stream is long enough to hold it at
// deflate's best ratio (1032:1); the stream is cut at that size (zlib
// bombs). Decode refuses nesting deeper than [Limits.MaxDepth], atoms
// longer than 255 characters and integers longer than [MaxBigBytes]
// bytes.
//
// # Concurrency
//
// Everything here is stateless and safe for concurrent use.
package etf
