package token

import (
	"errors"
	"testing"
)

// FuzzVerify feeds Verify two kinds of input: the token as a client sends
// it, which rarely gets past the signature, and any payload bytes signed
// with the key, which reach the term decoder and the age checks as only a
// holder of the key could. Verify must not panic, must fail with one of
// the package's errors (wrapped or not), and what it accepts must sign
// again.
func FuzzVerify(f *testing.F) {
	v := loadVectors(f)
	for _, vec := range v.Tokens {
		f.Add(vec.Token, []byte(nil))
	}
	for _, ex := range v.VerifyExamples {
		if ex.Token != nil {
			f.Add(*ex.Token, []byte(nil))
		}
	}
	for _, term := range []any{
		Tuple{42, t0.UnixMilli(), 86400},
		Tuple{"d", t0.UnixMilli()},
		Tuple{map[string]any{"id": 1}, t0.UnixMilli(), Atom("infinity")},
		map[Atom]any{"data": 1, "signed": t0.UnixMilli()},
		Tuple{1, 1.5, 2.5},
	} {
		b, err := encode(nil, term)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("", b)
	}
	f.Add("SFMyNTY..", []byte{131})
	f.Add("SFM1MTI.g2gDYSpuBgAA6Je2mgFiAAFRgA.", []byte{131, 80, 0, 0, 0, 1})

	s := testSigner(f)
	opts := &VerifyOptions{Now: t0}
	f.Fuzz(func(t *testing.T, token string, payload []byte) {
		checkVerify(t, s, token, opts)
		checkVerify(t, s, signRaw(s, hs256, payload), opts)
	})
}

func checkVerify(t *testing.T, s *Signer, token string, opts *VerifyOptions) {
	t.Helper()
	data, err := s.Verify(token, opts)
	if err != nil {
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrMissing) {
			t.Fatalf("Verify(%q): error %v is none of the package's", token, err)
		}
		if data != nil {
			t.Fatalf("Verify(%q): %#v with error %v", token, data, err)
		}
		return
	}
	if _, err := s.Sign(data, &SignOptions{SignedAt: t0}); err != nil {
		t.Fatalf("Verify(%q) gave %#v, which does not sign: %v", token, data, err)
	}
}
