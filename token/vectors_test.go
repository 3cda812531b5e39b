package token

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"testing"
	"time"
)

// testdata/phoenix-token.json was written by Phoenix 1.7.24 (plug_crypto
// 2.1.1, Erlang/OTP 25.2.3): Phoenix.Token.sign(secret_key_base, "user
// socket", data, signed_at: 1764000000) for 15 kinds of data, the
// term_to_binary of each payload and of each data, the derived key, and
// Phoenix.Token.verify/4 results.

type vectors struct {
	DefaultMaxAgeSeconds int    `json:"default_max_age_seconds"`
	DerivedKeyHex        string `json:"derived_key_hex"`
	Salt                 string `json:"salt"`
	SecretKeyBase        string `json:"secret_key_base"`
	SignedAtSeconds      int64  `json:"signed_at_seconds"`
	TokenMaxAge60        string `json:"token_max_age_60"`
	Tokens               []struct {
		Name            string `json:"name"`
		DataInspect     string `json:"data_inspect"`
		DataTermHex     string `json:"data_term_hex"`
		TermToBinaryHex string `json:"term_to_binary_hex"`
		Token           string `json:"token"`
	} `json:"tokens"`
	VerifyExamples []struct {
		Opts   string  `json:"opts"`
		Result string  `json:"result"`
		Token  *string `json:"token"`
	} `json:"verify_examples"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	raw, err := os.ReadFile("testdata/phoenix-token.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 15 || len(v.VerifyExamples) == 0 {
		t.Fatalf("%d tokens and %d verify examples", len(v.Tokens), len(v.VerifyExamples))
	}
	return v
}

func mustBig(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return x
}

// vectorData gives, for each vector, the Go value signed (as a Go
// program would write it) and the value Verify returns.
var vectorData = map[string]struct{ in, out any }{
	"integer":          {42, int64(42)},
	"big integer":      {mustBig("12345678901234567890"), mustBig("12345678901234567890")},
	"negative integer": {-7, int64(-7)},
	"string":           {"user:42", "user:42"},
	"empty string":     {"", ""},
	"unicode string":   {"zoë ✓", "zoë ✓"},
	"map with string keys": {
		map[string]any{"id": 7, "role": "admin"},
		map[string]any{"id": int64(7), "role": "admin"},
	},
	"map with atom keys": {
		map[Atom]any{"id": 7, "name": "ann"},
		map[any]any{Atom("id"): int64(7), Atom("name"): "ann"},
	},
	"list":  {[]any{1, "two", 3.5}, []any{int64(1), "two", 3.5}},
	"nil":   {nil, nil},
	"true":  {true, true},
	"float": {1.25, 1.25},
	"atom":  {Atom("admin"), Atom("admin")},
	"tuple": {Tuple{Atom("user"), 42}, Tuple{Atom("user"), int64(42)}},
	"nested": {
		map[string]any{"exp": nil, "user": map[string]any{"id": 1, "tags": []string{"a", "b"}}},
		map[string]any{"exp": nil, "user": map[string]any{"id": int64(1), "tags": []any{"a", "b"}}},
	},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectorKey(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	key, err := DeriveKey([]byte(v.SecretKeyBase), v.Salt, nil)
	success(t, err)
	if got := hex.EncodeToString(key); got != v.DerivedKeyHex {
		t.Fatalf("derived key %s, want %s", got, v.DerivedKeyHex)
	}
	s, err := NewSigner([]byte(v.SecretKeyBase), v.Salt, nil)
	success(t, err)
	if !bytes.Equal(s.key, key) {
		t.Fatal("Signer key differs from DeriveKey")
	}
	if v.DefaultMaxAgeSeconds != int(DefaultMaxAge/time.Second) {
		t.Fatalf("default max age %d", v.DefaultMaxAgeSeconds)
	}
}

func TestVectorTokens(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	s, err := NewSigner([]byte(v.SecretKeyBase), v.Salt, nil)
	success(t, err)
	signedAt := time.Unix(v.SignedAtSeconds, 0)
	for _, vec := range v.Tokens {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			d, ok := vectorData[vec.Name]
			if !ok {
				t.Fatalf("no Go value for %s", vec.DataInspect)
			}

			// Phoenix's token verifies to its data, by Signer and by Verify.
			got, err := s.Verify(vec.Token, &VerifyOptions{Now: signedAt.Add(time.Second)})
			success(t, err)
			deepEqual(t, got, d.out)
			got, err = Verify([]byte(v.SecretKeyBase), v.Salt, vec.Token, &VerifyOptions{Now: signedAt})
			success(t, err)
			deepEqual(t, got, d.out)

			// Signing the same data at the same time gives Phoenix's token.
			for _, in := range []any{d.in, d.out} {
				tok, err := s.Sign(in, &SignOptions{SignedAt: signedAt})
				success(t, err)
				if tok != vec.Token {
					t.Fatalf("Sign(%#v)\n got %s\nwant %s", in, tok, vec.Token)
				}
			}
			tok, err := Sign([]byte(v.SecretKeyBase), v.Salt, d.in, &SignOptions{SignedAt: signedAt})
			success(t, err)
			if tok != vec.Token {
				t.Fatalf("package Sign\n got %s\nwant %s", tok, vec.Token)
			}

			// The terms encode and decode byte for byte.
			termBytes := unhex(t, vec.DataTermHex)
			enc, err := encode(nil, d.in)
			success(t, err)
			if !bytes.Equal(enc, termBytes) {
				t.Fatalf("data term\n got %x\nwant %x", enc, termBytes)
			}
			dec, err := decode(termBytes)
			success(t, err)
			deepEqual(t, dec, d.out)

			payload := unhex(t, vec.TermToBinaryHex)
			enc, err = encode(nil, Tuple{d.in, signedAt.UnixMilli(), 86400})
			success(t, err)
			if !bytes.Equal(enc, payload) {
				t.Fatalf("payload term\n got %x\nwant %x", enc, payload)
			}
			dec, err = decode(payload)
			success(t, err)
			deepEqual(t, dec, Tuple{d.out, signedAt.UnixMilli(), int64(86400)})
			t.Logf("%-22s %-60s verify ok, sign identical, terms identical", vec.Name, vec.DataInspect)
		})
	}
}

func TestVectorVerifyExamples(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	// "now" when Phoenix ran the examples.
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	opts := map[string]*VerifyOptions{
		"max_age: :infinity": {MaxAge: Infinity, Now: now},
		"max_age: 86400 (now is far past signed_at+86400)": {MaxAge: 86400 * time.Second, Now: now},
		"tampered signature": {Now: now},
		"nil token":          {Now: now},
		"token signed with max_age 60, verified with max_age :infinity": {MaxAge: Infinity, Now: now},
	}
	results := map[string]struct {
		data any
		err  error
	}{
		"{:ok, 42}":          {int64(42), nil},
		"{:error, :expired}": {nil, ErrExpired},
		"{:error, :invalid}": {nil, ErrInvalid},
		"{:error, :missing}": {nil, ErrMissing},
	}
	s, err := NewSigner([]byte(v.SecretKeyBase), v.Salt, nil)
	success(t, err)
	for _, ex := range v.VerifyExamples {
		o, ok := opts[ex.Opts]
		if !ok {
			t.Fatalf("unknown opts %q", ex.Opts)
		}
		want, ok := results[ex.Result]
		if !ok {
			t.Fatalf("unknown result %q", ex.Result)
		}
		tok := ""
		if ex.Token != nil {
			tok = *ex.Token
		}
		got, err := s.Verify(tok, o)
		if err != want.err {
			t.Fatalf("%s: error %v, want %v", ex.Opts, err, want.err)
		}
		deepEqual(t, got, want.data)
		t.Logf("%-66s %s", ex.Opts, ex.Result)
	}
}

func TestVectorMaxAge60(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	s, err := NewSigner([]byte(v.SecretKeyBase), v.Salt, nil)
	success(t, err)
	signedAt := time.Unix(v.SignedAtSeconds, 0)

	tok, err := s.Sign(42, &SignOptions{SignedAt: signedAt, MaxAge: 60 * time.Second})
	success(t, err)
	if tok != v.TokenMaxAge60 {
		t.Fatalf("got %s\nwant %s", tok, v.TokenMaxAge60)
	}
	// The token's own max age applies: valid at exactly 60 s, expired 1 ms later.
	got, err := s.Verify(v.TokenMaxAge60, &VerifyOptions{Now: signedAt.Add(60 * time.Second)})
	success(t, err)
	deepEqual(t, got, int64(42))
	_, err = s.Verify(v.TokenMaxAge60, &VerifyOptions{Now: signedAt.Add(60*time.Second + time.Millisecond)})
	errorIs(t, err, ErrExpired)
	// The max age given to Verify wins over the token's.
	_, err = s.Verify(v.TokenMaxAge60, &VerifyOptions{MaxAge: time.Hour, Now: signedAt.Add(30 * time.Minute)})
	success(t, err)
}
