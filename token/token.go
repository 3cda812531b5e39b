package token

import (
	"math"
	"time"

	"github.com/pyrehq/pyre/internal/etf"
)

// Atom is an Elixir atom such as :admin, kept apart from strings (Elixir
// binaries): Atom("admin") signs as :admin, "admin" as "admin". Verify
// gives atom keys of a map as Atom values of a map[any]any. The atoms
// true, false and nil are Go's true, false and nil instead.
type Atom string

// Tuple is an Elixir tuple such as {:user, 42}: Tuple{Atom("user"), 42}.
type Tuple []any

// encode is :erlang.term_to_binary, appended to dst.
func encode(dst []byte, v any) ([]byte, error) {
	return etf.AppendEncodeAs[Atom, Tuple](dst, v)
}

// decode is :erlang.binary_to_term, with the default limits.
func decode(b []byte) (any, error) {
	return etf.DecodeAs[Atom, Tuple](etf.Limits{}, b)
}

const (
	// DefaultMaxAge is the max age Phoenix signs into a token when told
	// none: 86400 seconds, one day.
	DefaultMaxAge = 86400 * time.Second

	// Infinity as a max age means the token never expires (Phoenix's
	// max_age: :infinity).
	Infinity time.Duration = math.MaxInt64
)

// SignOptions are Phoenix.Token.sign/4's options other than the key's
// (which belong to [NewSigner]). The zero value is Phoenix's default.
type SignOptions struct {
	// SignedAt is the time the token says it was signed (signed_at),
	// kept to the millisecond. Zero means now.
	SignedAt time.Time

	// MaxAge is the max age signed into the token (max_age), which
	// Verify applies unless told another. It must be a whole number of
	// seconds, as Phoenix counts it. Zero means DefaultMaxAge; Infinity
	// signs :infinity.
	MaxAge time.Duration
}

// VerifyOptions are Phoenix.Token.verify/4's options other than the
// key's. The zero value is Phoenix's default.
type VerifyOptions struct {
	// MaxAge, when not zero, replaces the max age signed into the token
	// (max_age: as Plug.Crypto does, the one given at verification wins).
	// Infinity accepts a token of any age, even one signed in the
	// future. A negative MaxAge refuses every token as expired, as Plug
	// does for max_age: 0. Zero means the token's own max age.
	MaxAge time.Duration

	// Now is the time to check the token's age against. Zero means now.
	Now time.Time
}

// Sign returns a token for data that Phoenix.Token.verify/4 accepts with
// the same secret (the Phoenix application's secret_key_base) and salt.
// It is Phoenix.Token.sign(secret, salt, data, opts) with Phoenix's key
// options; use a [Signer] for others. The token carries data in clear:
// anyone can read it, only holders of the secret can make one.
//
// The package documentation lists the Go values data may hold.
//
// Sign derives the key once per secret and salt and keeps it, like
// Plug.Crypto; a [Signer] does the same without the cache lookup.
func Sign(secret []byte, salt string, data any, opts *SignOptions) (string, error) {
	s, err := cachedSigner(secret, salt)
	if err != nil {
		return "", err
	}
	return s.Sign(data, opts)
}

// Verify checks a token made by Phoenix.Token.sign/4 (or [Sign]) with
// the same secret and salt and returns its data. It is
// Phoenix.Token.verify(secret, salt, token, opts) with Phoenix's key
// options; use a [Signer] for others. It fails with [ErrMissing],
// [ErrInvalid] or [ErrExpired], or another error if secret is too short.
//
// The package documentation lists the Go values data may hold.
func Verify(secret []byte, salt, token string, opts *VerifyOptions) (any, error) {
	s, err := cachedSigner(secret, salt)
	if err != nil {
		return nil, err
	}
	return s.Verify(token, opts)
}
