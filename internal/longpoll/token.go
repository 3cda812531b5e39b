package longpoll

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// DefaultMaxAge is how long a long-poll session token stays valid:
// 14 days, as in Phoenix.
const DefaultMaxAge = 14 * 24 * time.Hour

// ErrInvalidToken is returned by [Signer.Verify] for a token that is
// malformed, forged, signed with another secret, or expired.
var ErrInvalidToken = errors.New("longpoll: invalid or expired token")

// Token is what a long-poll token carries: the node that holds the
// session, and the session's id on that node.
type Token struct {
	Node    string
	Session string
}

// Signer signs and verifies long-poll session tokens with
// HMAC-SHA256. A token is base64url(payload) "." base64url(mac), where the
// payload holds the version, the signing time in milliseconds, the node
// and the session id. It is opaque to clients; every node of a cluster
// must use the same secret to accept each other's tokens.
type Signer struct {
	key    []byte
	maxAge time.Duration
}

// NewSigner returns a signer keyed by secret; an empty secret picks a
// random one, valid for this process only. maxAge 0 means
// DefaultMaxAge.
func NewSigner(secret []byte, maxAge time.Duration) *Signer {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	// Derive the key, so that an application secret used elsewhere too
	// never signs anything but these tokens here.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("pyre long-poll session token v1"))
	return &Signer{key: m.Sum(nil), maxAge: maxAge}
}

const tokenVersion = 1

// Sign returns a token for t, signed at now.
func (s *Signer) Sign(t Token, now time.Time) string {
	payload := make([]byte, 0, 1+8+2+len(t.Node)+len(t.Session))
	payload = append(payload, tokenVersion)
	payload = binary.BigEndian.AppendUint64(payload, uint64(now.UnixMilli()))
	payload = binary.BigEndian.AppendUint16(payload, uint16(len(t.Node)))
	payload = append(payload, t.Node...)
	payload = append(payload, t.Session...)
	enc := base64.RawURLEncoding
	out := enc.AppendEncode(nil, payload)
	out = append(out, '.')
	out = enc.AppendEncode(out, s.mac(out[:len(out)-1]))
	return string(out)
}

func (s *Signer) mac(signed []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(signed)
	return m.Sum(nil)
}

// Verify checks token's signature and age at now and returns what it carries.
func (s *Signer) Verify(token string, now time.Time) (Token, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Token{}, ErrInvalidToken
	}
	enc := base64.RawURLEncoding
	mac, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac([]byte(body))) {
		return Token{}, ErrInvalidToken
	}
	payload, err := enc.DecodeString(body)
	if err != nil || len(payload) < 11 || payload[0] != tokenVersion {
		return Token{}, ErrInvalidToken
	}
	signed := time.UnixMilli(int64(binary.BigEndian.Uint64(payload[1:9])))
	if signed.After(now.Add(time.Second)) || now.Sub(signed) > s.maxAge {
		return Token{}, ErrInvalidToken
	}
	n := int(binary.BigEndian.Uint16(payload[9:11]))
	if len(payload) < 11+n {
		return Token{}, ErrInvalidToken
	}
	return Token{Node: string(payload[11 : 11+n]), Session: string(payload[11+n:])}, nil
}
