package token

import (
	"testing"
)

// The user id a socket's connect token typically carries, and a larger
// map of claims.
var (
	benchSmall = 42
	benchMap   = map[string]any{"user_id": 42, "role": "admin", "org": "pyre", "scopes": []string{"read", "write"}}
)

func benchToken(b *testing.B, data any) string {
	tok, err := testSigner(b).Sign(data, &SignOptions{SignedAt: t0})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkVerify is the cost per connect with a Signer kept by the
// server: the derived key is cached, so it is an HMAC and a decode.
func BenchmarkVerify(b *testing.B) {
	for _, bm := range []struct {
		name string
		data any
	}{{"int", benchSmall}, {"map", benchMap}} {
		b.Run(bm.name, func(b *testing.B) {
			s := testSigner(b)
			tok := benchToken(b, bm.data)
			opts := &VerifyOptions{Now: t0}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Verify(tok, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyPackage is the package-level Verify: the same, plus the
// cache lookup of the Signer.
func BenchmarkVerifyPackage(b *testing.B) {
	tok := benchToken(b, benchSmall)
	opts := &VerifyOptions{Now: t0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(testSecret, testSalt, tok, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyInvalid is a forged token: refused after one HMAC.
func BenchmarkVerifyInvalid(b *testing.B) {
	s := testSigner(b)
	tok := benchToken(b, benchMap)
	tok = tok[:len(tok)-2] + "AA" // same length, another signature
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok, nil); err != ErrInvalid {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	for _, bm := range []struct {
		name string
		data any
	}{{"int", benchSmall}, {"map", benchMap}} {
		b.Run(bm.name, func(b *testing.B) {
			s := testSigner(b)
			opts := &SignOptions{SignedAt: t0}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(bm.data, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewSigner is the key derivation a Signer saves on each call:
// PBKDF2-HMAC-SHA256 with 1000 iterations.
func BenchmarkNewSigner(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSigner(testSecret, testSalt, nil); err != nil {
			b.Fatal(err)
		}
	}
}
