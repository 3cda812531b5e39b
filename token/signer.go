package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// MinSecretLength is the shortest secret NewSigner accepts, in bytes: the
// shortest secret_key_base Phoenix.Token accepts as a string. Phoenix
// generates 64.
const MinSecretLength = 20

// A token is Plug.Crypto.MessageVerifier's format: the protected header
// (base64url of "HS256"), the payload and the HMAC of the first two,
// each base64url without padding, joined by dots.
const hs256 = "SFMyNTY"

var b64 = base64.RawURLEncoding.Strict()

// Signer signs and verifies tokens with one secret and salt, with the
// key derived once. A server that verifies a token on every connect
// should make one Signer and keep it. Make it with [NewSigner]; its
// methods are safe for concurrent use.
type Signer struct {
	key   []byte
	state sync.Pool // *state, with an HMAC-SHA256 keyed with key
}

// state is the scratch space of one Sign or Verify.
type state struct {
	mac hash.Hash
	buf []byte // payload being encoded or decoded
	tok []byte // token being built or checked
	sum [sha512.Size]byte
	sig [sha512.Size]byte
}

// maxPooledBuffer is the largest buffer kept for the next call: an
// unusually large token is served, then forgotten.
const maxPooledBuffer = 64 << 10

// NewSigner returns a Signer for tokens that Phoenix.Token signs with
// secret (the application's secret_key_base, at least MinSecretLength
// bytes), salt and the key options opts (nil for Phoenix's defaults). It
// derives the key (see [DeriveKey]) and keeps only the key.
func NewSigner(secret []byte, salt string, opts *KeyOptions) (*Signer, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("token: secret of %d bytes, want at least %d", len(secret), MinSecretLength)
	}
	key, err := DeriveKey(secret, salt, opts)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key}
	s.state.New = func() any { return &state{mac: hmac.New(sha256.New, key)} }
	return s, nil
}

// String describes s without its key, so that printing a Signer, by
// mistake or in a log line, does not print the key.
func (s *Signer) String() string { return "token.Signer{key: redacted}" }

// GoString is String, for %#v.
func (s *Signer) GoString() string { return s.String() }

func (s *Signer) get() *state { return s.state.Get().(*state) }

func (s *Signer) put(st *state) {
	if cap(st.buf) > maxPooledBuffer || cap(st.tok) > maxPooledBuffer {
		return
	}
	s.state.Put(st)
}

// Sign returns a token for data, as Phoenix.Token.sign/4 makes it. See
// the package-level [Sign].
func (s *Signer) Sign(data any, opts *SignOptions) (string, error) {
	var o SignOptions
	if opts != nil {
		o = *opts
	}
	if o.SignedAt.IsZero() {
		o.SignedAt = time.Now()
	}
	var maxAge any
	switch {
	case o.MaxAge == 0:
		maxAge = int64(DefaultMaxAge / time.Second)
	case o.MaxAge == Infinity:
		maxAge = Atom("infinity")
	case o.MaxAge < 0 || o.MaxAge%time.Second != 0:
		return "", fmt.Errorf("token: max age %v, want a positive whole number of seconds", o.MaxAge)
	default:
		maxAge = int64(o.MaxAge / time.Second)
	}
	st := s.get()
	defer s.put(st)
	var err error
	// :erlang.term_to_binary({data, signed_at_ms, max_age_s})
	st.buf, err = encode(st.buf[:0], Tuple{data, o.SignedAt.UnixMilli(), maxAge})
	if err != nil {
		return "", fmt.Errorf("token: cannot sign data: %w", err)
	}
	tok := append(st.tok[:0], hs256+"."...)
	tok = b64.AppendEncode(tok, st.buf)
	st.mac.Reset()
	st.mac.Write(tok)
	sum := st.mac.Sum(st.sum[:0])
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, sum)
	st.tok = tok
	return string(tok), nil
}

// Verify checks a token as Phoenix.Token.verify/4 does and returns its
// data. See the package-level [Verify].
func (s *Signer) Verify(token string, opts *VerifyOptions) (any, error) {
	if token == "" {
		return nil, ErrMissing
	}
	// Exactly three parts, as :binary.split(token, ".", [:global]) gives.
	protected, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrInvalid
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, ErrInvalid
	}
	st := s.get()
	defer s.put(st)
	mac := st.mac
	switch protected {
	case hs256:
	case "SFMzODQ": // HS384 and HS512 are verified, never signed, as in Plug
		mac = hmac.New(sha512.New384, s.key)
	case "SFM1MTI":
		mac = hmac.New(sha512.New, s.key)
	default:
		return nil, ErrInvalid
	}

	st.tok = append(st.tok[:0], token...)
	signed := st.tok[:len(protected)+1+len(payload)]
	sig64 := st.tok[len(signed)+1:]
	if b64.DecodedLen(len(sig64)) != mac.Size() {
		return nil, ErrInvalid
	}
	n, err := b64.Decode(st.sig[:], sig64)
	if err != nil || n != mac.Size() {
		return nil, ErrInvalid
	}
	mac.Reset()
	mac.Write(signed)
	if !hmac.Equal(mac.Sum(st.sum[:0]), st.sig[:n]) {
		return nil, ErrInvalid
	}

	// The signature is good: the payload is what a holder of the key
	// signed. Phoenix would raise on a payload it cannot read; Verify
	// calls it invalid.
	payload64 := signed[len(protected)+1:]
	st.buf = st.buf[:0]
	if st.buf, err = b64.AppendDecode(st.buf, payload64); err != nil {
		return nil, ErrInvalid
	}
	term, err := decode(st.buf)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	data, signedAt, maxAge, err := claims(term)
	if err != nil {
		return nil, err
	}
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxAge != 0 {
		maxAge = durationAge(o.MaxAge)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if err := checkAge(signedAt, maxAge, o.Now.UnixMilli()); err != nil {
		return nil, err
	}
	return data, nil
}
