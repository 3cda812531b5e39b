package token

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"math"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testSecret = []byte("pyre-test-secret-key-base-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ")
	testSalt   = "user socket"
	// t0 is the signing time of the tests; vectors use the same.
	t0 = time.Unix(1764000000, 0)
)

var (
	testSignerOnce sync.Once
	testSignerVal  *Signer
)

func testSigner(t testing.TB) *Signer {
	t.Helper()
	testSignerOnce.Do(func() {
		s, err := NewSigner(testSecret, testSalt, nil)
		if err != nil {
			panic(err)
		}
		testSignerVal = s
	})
	return testSignerVal
}

// signRaw signs any payload bytes under header as MessageVerifier does,
// to reach what Verify does after the signature check.
func signRaw(s *Signer, header string, payload []byte) string {
	var h func() hash.Hash
	switch header {
	case "SFMzODQ":
		h = sha512.New384
	case "SFM1MTI":
		h = sha512.New
	default:
		h = sha256.New
	}
	enc := base64.RawURLEncoding
	plain := header + "." + enc.EncodeToString(payload)
	mac := hmac.New(h, s.key)
	mac.Write([]byte(plain))
	return plain + "." + enc.EncodeToString(mac.Sum(nil))
}

// signTerm signs the term_to_binary of term.
func signTerm(t testing.TB, s *Signer, term any) string {
	t.Helper()
	b, err := encode(nil, term)
	success(t, err)
	return signRaw(s, hs256, b)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	two100 := new(big.Int).Lsh(big.NewInt(1), 100)
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"int", 42, int64(42)},
		{"int64", int64(-1 << 50), int64(-1 << 50)},
		{"uint64", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{"big", two100, two100},
		{"float", -0.5, -0.5},
		{"string", "user:42", "user:42"},
		{"bytes", []byte{0, 255}, "\x00\xff"},
		{"bool", false, false},
		{"nil", nil, nil},
		{"atom", Atom("admin"), Atom("admin")},
		{"utf8 atom", Atom("✓"), Atom("✓")},
		{"tuple", Tuple{Atom("ok"), "x", Tuple{}}, Tuple{Atom("ok"), "x", Tuple{}}},
		{"list", []any{1, []any{}, "a"}, []any{int64(1), []any{}, "a"}},
		{"charlist", []int{104, 105}, []any{int64(104), int64(105)}},
		{"strings", []string{"a", "b"}, []any{"a", "b"}},
		{"map of strings", map[string]any{"id": 1, "roles": []string{"admin"}},
			map[string]any{"id": int64(1), "roles": []any{"admin"}}},
		{"map of atoms", map[Atom]any{"id": 1}, map[any]any{Atom("id"): int64(1)}},
		{"mixed map", map[any]any{"a": 1, Atom("b"): 2, 3: 4}, map[any]any{"a": int64(1), Atom("b"): int64(2), int64(3): int64(4)}},
		{"empty map", map[string]any{}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := s.Sign(tt.in, &SignOptions{SignedAt: t0})
			success(t, err)
			got, err := s.Verify(tok, &VerifyOptions{Now: t0})
			success(t, err)
			deepEqual(t, got, tt.want)
		})
	}
}

func TestSignNow(t *testing.T) {
	t.Parallel()
	tok, err := Sign(testSecret, testSalt, "now", nil)
	success(t, err)
	got, err := Verify(testSecret, testSalt, tok, nil)
	success(t, err)
	deepEqual(t, got, "now")
}

func TestVerifyInvalid(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	good, err := s.Sign(42, &SignOptions{SignedAt: t0})
	success(t, err)
	parts := strings.Split(good, ".")
	other, err := s.Sign(43, &SignOptions{SignedAt: t0})
	success(t, err)
	otherParts := strings.Split(other, ".")
	otherSalt, err := Sign(testSecret, "other salt", 42, &SignOptions{SignedAt: t0})
	success(t, err)
	otherSecret, err := Sign(bytes.Repeat([]byte("x"), 64), testSalt, 42, &SignOptions{SignedAt: t0})
	success(t, err)

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMissing},
		{"no dot", "SFMyNTY", ErrInvalid},
		{"two parts", parts[0] + "." + parts[1], ErrInvalid},
		{"four parts", good + ".x", ErrInvalid},
		{"empty parts", "..", ErrInvalid},
		{"unknown header", "SFMxMjg." + parts[1] + "." + parts[2], ErrInvalid},
		{"HS256 in clear", "HS256." + parts[1] + "." + parts[2], ErrInvalid},
		{"payload of another token", parts[0] + "." + otherParts[1] + "." + parts[2], ErrInvalid},
		{"signature of another token", parts[0] + "." + parts[1] + "." + otherParts[2], ErrInvalid},
		{"other salt", otherSalt, ErrInvalid},
		{"other secret", otherSecret, ErrInvalid},
		{"signature one char longer", good + "x", ErrInvalid},
		{"signature one char shorter", good[:len(good)-1], ErrInvalid},
		{"padded signature", good + "=", ErrInvalid},
		{"newline in signature", good[:len(good)-3] + "\n" + good[len(good)-3:], ErrInvalid},
		{"standard base64 signature", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]), ErrInvalid},
		{"payload not base64", parts[0] + ".!!!." + parts[2], ErrInvalid},
		{"signed payload not base64", signRawText(s, "SFMyNTY.!!!"), ErrInvalid},
		{"signed payload not a term", signRaw(s, hs256, []byte("hello")), ErrInvalid},
		{"signed term not a tuple", signTerm(t, s, 42), ErrInvalid},
		{"signed tuple of 4", signTerm(t, s, Tuple{42, t0.UnixMilli(), 60, 0}), ErrInvalid},
		{"signed_at not a number", signTerm(t, s, Tuple{42, "yesterday", 60}), ErrInvalid},
		{"max_age not a number", signTerm(t, s, Tuple{42, t0.UnixMilli(), Atom("forever")}), ErrInvalid},
		{"map without signed", signTerm(t, s, map[Atom]any{"data": 42}), ErrInvalid},
		{"pid in payload", signRaw(s, hs256, []byte{131, 88, 100, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Verify(tt.token, &VerifyOptions{Now: t0})
			errorIs(t, err, tt.want)
			if got != nil {
				t.Fatalf("got %#v with the error", got)
			}
		})
	}
}

// signRawText signs the text of a token's first two parts as is.
func signRawText(s *Signer, plain string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(plain))
	return plain + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestVerifyAccepts covers tokens Phoenix accepts though Sign never makes
// them: HS384 and HS512 signatures, the payload formats of older Plug
// and Phoenix releases, and a compressed payload.
func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	payload, err := encode(nil, Tuple{"data", t0.UnixMilli(), 60})
	success(t, err)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(payload[1:])
	success(t, zw.Close())
	compressed := append([]byte{131, 80, 0, 0, 0, byte(len(payload) - 1)}, z.Bytes()...)

	tests := []struct {
		name  string
		token string
	}{
		{"HS384", signRaw(s, "SFMzODQ", payload)},
		{"HS512", signRaw(s, "SFM1MTI", payload)},
		{"Plug.Crypto 1.1 {data, signed}", signTerm(t, s, Tuple{"data", t0.UnixMilli()})},
		{"old Phoenix %{data:, signed:}", signTerm(t, s, map[Atom]any{"data": "data", "signed": t0.UnixMilli()})},
		{"compressed", signRaw(s, hs256, compressed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Verify(tt.token, &VerifyOptions{Now: t0.Add(time.Minute)})
			success(t, err)
			deepEqual(t, got, "data")
		})
	}
	// The old formats mean 86400 seconds.
	_, err = s.Verify(tests[2].token, &VerifyOptions{Now: t0.Add(DefaultMaxAge)})
	success(t, err)
	_, err = s.Verify(tests[3].token, &VerifyOptions{Now: t0.Add(DefaultMaxAge + time.Millisecond)})
	errorIs(t, err, ErrExpired)
}

// TestMaxAge follows Plug.Crypto's validate_age/2: :infinity always
// passes; max_age <= 0 has always expired; a token signed in the future
// is invalid; one exactly max_age old is still valid.
func TestMaxAge(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	day := DefaultMaxAge
	sign := func(o SignOptions) string {
		t.Helper()
		if o.SignedAt.IsZero() {
			o.SignedAt = t0
		}
		tok, err := s.Sign("d", &o)
		success(t, err)
		return tok
	}
	minute := sign(SignOptions{MaxAge: time.Minute})
	forever := sign(SignOptions{MaxAge: Infinity})
	def := sign(SignOptions{})
	tests := []struct {
		name   string
		token  string
		maxAge time.Duration
		now    time.Time
		want   error
	}{
		{"default, just signed", def, 0, t0, nil},
		{"default, exactly one day", def, 0, t0.Add(day), nil},
		{"default, one day and 1 ms", def, 0, t0.Add(day + time.Millisecond), ErrExpired},
		{"default, sub-millisecond past a day", def, 0, t0.Add(day + time.Microsecond), nil},
		{"signed 1 ms in the future", def, 0, t0.Add(-time.Millisecond), ErrInvalid},
		{"signed in the future, infinite max age", def, Infinity, t0.Add(-time.Hour), nil},
		{"signed :infinity, in the future", forever, 0, t0.Add(-time.Hour), nil},
		{"signed :infinity, a century later", forever, 0, t0.Add(100 * 365 * day), nil},
		{"signed :infinity, verified with a max age", forever, time.Minute, t0.Add(2 * time.Minute), ErrExpired},
		{"signed 60 s, at 60 s", minute, 0, t0.Add(time.Minute), nil},
		{"signed 60 s, at 61 s", minute, 0, t0.Add(61 * time.Second), ErrExpired},
		{"signed 60 s, verified with a day", minute, day, t0.Add(time.Hour), nil},
		{"verified with 1 h, at 2 h", def, time.Hour, t0.Add(2 * time.Hour), ErrExpired},
		{"verified with 1.5 s, at 1.5 s", def, 1500 * time.Millisecond, t0.Add(1500 * time.Millisecond), nil},
		{"verified with 1.5 s, at 1.501 s", def, 1500 * time.Millisecond, t0.Add(1501 * time.Millisecond), ErrExpired},
		{"verified with a negative max age", def, -1, t0, ErrExpired},
		{"max age 0 in the token", signTerm(t, s, Tuple{"d", t0.UnixMilli(), 0}), 0, t0, ErrExpired},
		{"negative max age in the token", signTerm(t, s, Tuple{"d", t0.UnixMilli(), -5}), 0, t0, ErrExpired},
		{"float max age in the token, at 1.5 s", signTerm(t, s, Tuple{"d", t0.UnixMilli(), 1.5}), 0, t0.Add(1500 * time.Millisecond), nil},
		{"float max age in the token, at 1.501 s", signTerm(t, s, Tuple{"d", t0.UnixMilli(), 1.5}), 0, t0.Add(1501 * time.Millisecond), ErrExpired},
		{"huge max age in the token", signTerm(t, s, Tuple{"d", t0.UnixMilli(), int64(math.MaxInt64)}), 0, t0.Add(100 * 365 * day), nil},
		{"big max age in the token", signTerm(t, s, Tuple{"d", t0.UnixMilli(), new(big.Int).Lsh(big.NewInt(1), 70)}), 0, t0.Add(100 * 365 * day), nil},
		{"float signed_at", signTerm(t, s, Tuple{"d", float64(t0.UnixMilli()), 60}), 0, t0.Add(time.Minute), nil},
		{"float signed_at, expired", signTerm(t, s, Tuple{"d", float64(t0.UnixMilli()), 60}), 0, t0.Add(time.Minute + time.Millisecond), ErrExpired},
		{"signed_at at the start of int64", signTerm(t, s, Tuple{"d", int64(math.MinInt64), int64(math.MaxInt64)}), 0, t0, ErrExpired},
		{"signed_at a big in the future", signTerm(t, s, Tuple{"d", new(big.Int).Lsh(big.NewInt(1), 70), 60}), 0, t0, ErrInvalid},
		{"signed_at a big in the past", signTerm(t, s, Tuple{"d", new(big.Int).Lsh(big.NewInt(-1), 70), 60}), 0, t0, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Verify(tt.token, &VerifyOptions{MaxAge: tt.maxAge, Now: tt.now})
			if err != tt.want {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if err == nil {
				deepEqual(t, got, "d")
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	tests := []struct {
		name string
		data any
		opts SignOptions
	}{
		{"negative max age", 1, SignOptions{MaxAge: -time.Second}},
		{"sub-second max age", 1, SignOptions{MaxAge: 1500 * time.Millisecond}},
		{"struct", struct{ ID int }{1}, SignOptions{}},
		{"pointer", new(int), SignOptions{}},
		{"NaN", math.NaN(), SignOptions{}},
		{"atom too long", Atom(strings.Repeat("a", 256)), SignOptions{}},
		{"duplicate keys", map[any]any{1: 1, int64(1): 2}, SignOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := s.Sign(tt.data, &tt.opts)
			if err == nil || tok != "" {
				t.Fatalf("signed %q", tok)
			}
			if !strings.HasPrefix(err.Error(), "token: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestKeyOptions(t *testing.T) {
	t.Parallel()
	def, err := DeriveKey(testSecret, testSalt, nil)
	success(t, err)
	explicit, err := DeriveKey(testSecret, testSalt, &KeyOptions{Iterations: 1000, Length: 32, Digest: crypto.SHA256})
	success(t, err)
	deepEqual(t, explicit, def)

	for _, o := range []KeyOptions{
		{Iterations: 2000},
		{Length: 64},
		{Digest: crypto.SHA384},
		{Digest: crypto.SHA512, Iterations: 1, Length: 16},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			t.Parallel()
			key, err := DeriveKey(testSecret, testSalt, &o)
			success(t, err)
			if bytes.Equal(key, def) {
				t.Fatal("same key as the defaults")
			}
			if o.Length != 0 && len(key) != o.Length {
				t.Fatalf("key of %d bytes", len(key))
			}
			s, err := NewSigner(testSecret, testSalt, &o)
			success(t, err)
			tok, err := s.Sign("k", &SignOptions{SignedAt: t0})
			success(t, err)
			got, err := s.Verify(tok, &VerifyOptions{Now: t0})
			success(t, err)
			deepEqual(t, got, "k")
			// A Phoenix verifier with the default options refuses it.
			_, err = Verify(testSecret, testSalt, tok, &VerifyOptions{Now: t0})
			errorIs(t, err, ErrInvalid)
		})
	}
}

func TestNewSignerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret []byte
		opts   *KeyOptions
	}{
		{"nil secret", nil, nil},
		{"short secret", bytes.Repeat([]byte("s"), MinSecretLength-1), nil},
		{"negative iterations", testSecret, &KeyOptions{Iterations: -1}},
		{"negative length", testSecret, &KeyOptions{Length: -1}},
		{"MD5", testSecret, &KeyOptions{Digest: crypto.MD5}},
		{"SHA-1", testSecret, &KeyOptions{Digest: crypto.SHA1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSigner(tt.secret, testSalt, tt.opts)
			if err == nil || s != nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "token: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
	// The package-level functions report the same error.
	_, err := Sign([]byte("short"), testSalt, 1, nil)
	if err == nil {
		t.Fatal("Sign accepted a short secret")
	}
	_, err = Verify([]byte("short"), testSalt, "x", nil)
	if err == nil || err == ErrInvalid {
		t.Fatalf("Verify with a short secret: %v", err)
	}
	// DeriveKey itself takes any secret, as Plug's KeyGenerator does.
	_, err = DeriveKey(nil, "", nil)
	success(t, err)
}

func TestEmptySalt(t *testing.T) {
	t.Parallel()
	tok, err := Sign(testSecret, "", 1, &SignOptions{SignedAt: t0})
	success(t, err)
	_, err = Verify(testSecret, "", tok, &VerifyOptions{Now: t0})
	success(t, err)
	_, err = Verify(testSecret, testSalt, tok, &VerifyOptions{Now: t0})
	errorIs(t, err, ErrInvalid)
}

func TestSignerConcurrent(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				data := map[string]any{"g": g, "i": i, "pad": strings.Repeat("x", i*50)}
				tok, err := s.Sign(data, &SignOptions{SignedAt: t0})
				if err != nil {
					t.Error(err)
					return
				}
				got, err := s.Verify(tok, &VerifyOptions{Now: t0})
				if err != nil {
					t.Error(err)
					return
				}
				m := got.(map[string]any)
				if m["g"] != int64(g) || m["i"] != int64(i) {
					t.Errorf("got %v for g=%d i=%d", m, g, i)
					return
				}
				if _, err := s.Verify(tok+"x", nil); err != ErrInvalid {
					t.Errorf("tampered: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPackageCacheConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				salt := fmt.Sprintf("salt %d", (g+i)%(maxCachedSigners+8))
				tok, err := Sign(testSecret, salt, i, &SignOptions{SignedAt: t0})
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := Verify(testSecret, salt, tok, &VerifyOptions{Now: t0}); err != nil || got != int64(i) {
					t.Errorf("got %v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	signers.RLock()
	n := signers.n
	signers.RUnlock()
	if n > maxCachedSigners {
		t.Fatalf("%d signers cached", n)
	}
}

func TestSignerPrintsNoKey(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	keyHex := fmt.Sprintf("%x", s.key)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		if strings.Contains(out, keyHex) || strings.Contains(out, fmt.Sprint(s.key)) || !strings.Contains(out, "redacted") {
			t.Fatalf("%s: %s", format, out)
		}
	}
}
