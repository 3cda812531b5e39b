package token

import (
	"crypto"
	"crypto/pbkdf2"
	_ "crypto/sha256" // crypto.SHA256.New
	_ "crypto/sha512" // crypto.SHA384.New, crypto.SHA512.New
	"fmt"
	"sync"
)

// KeyOptions are Plug.Crypto.KeyGenerator's options, which Phoenix.Token
// takes as key_iterations, key_length and key_digest. The zero value is
// Phoenix's default, and a Phoenix application that passes none of them
// needs none here.
type KeyOptions struct {
	// Iterations is the PBKDF2 iteration count. Zero means 1000.
	Iterations int

	// Length is the length of the derived key in bytes. Zero means 32.
	Length int

	// Digest is the hash of PBKDF2's HMAC: crypto.SHA256, crypto.SHA384
	// or crypto.SHA512 (Plug's :sha256, :sha384, :sha512). Zero means
	// crypto.SHA256. It does not change the token's own HMAC, which is
	// always HMAC-SHA256 when signing, as in Phoenix.
	Digest crypto.Hash
}

// Defaults of Plug.Crypto.KeyGenerator.
const (
	defaultIterations = 1000
	defaultKeyLength  = 32
)

// DeriveKey returns the key that Plug.Crypto.KeyGenerator.generate/3
// derives from secret (a secret_key_base) and salt: PBKDF2 with opts.
// Tokens are signed with it. It costs about 1000 HMAC computations (a
// fraction of a millisecond), which is why a [Signer] derives it once.
// DeriveKey is mostly useful to check that both sides derive the same key.
func DeriveKey(secret []byte, salt string, opts *KeyOptions) ([]byte, error) {
	var o KeyOptions
	if opts != nil {
		o = *opts
	}
	if o.Iterations == 0 {
		o.Iterations = defaultIterations
	}
	if o.Length == 0 {
		o.Length = defaultKeyLength
	}
	if o.Digest == 0 {
		o.Digest = crypto.SHA256
	}
	switch {
	case o.Iterations < 1:
		return nil, fmt.Errorf("token: key iterations %d, want at least 1", o.Iterations)
	case o.Length < 1:
		return nil, fmt.Errorf("token: key length %d, want at least 1", o.Length)
	case o.Digest != crypto.SHA256 && o.Digest != crypto.SHA384 && o.Digest != crypto.SHA512:
		return nil, fmt.Errorf("token: key digest %v, want SHA-256, SHA-384 or SHA-512", o.Digest)
	}
	key, err := pbkdf2.Key(o.Digest.New, string(secret), []byte(salt), o.Iterations, o.Length)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return key, nil
}

// The package-level Sign and Verify keep the Signers they make, as
// Plug.Crypto keeps derived keys in an ETS table, so that each secret and
// salt pays for PBKDF2 once. Unlike Plug's table this cache is bounded:
// past maxCachedSigners it starts over.
const maxCachedSigners = 64

var signers struct {
	sync.RWMutex
	m map[string]map[string]*Signer // secret → salt → Signer
	n int
}

// cachedSigner returns a Signer with the default key options for secret
// and salt, making it at most once while it stays in the cache.
func cachedSigner(secret []byte, salt string) (*Signer, error) {
	signers.RLock()
	s := signers.m[string(secret)][salt]
	signers.RUnlock()
	if s != nil {
		return s, nil
	}
	s, err := NewSigner(secret, salt, nil)
	if err != nil {
		return nil, err
	}
	signers.Lock()
	defer signers.Unlock()
	if old := signers.m[string(secret)][salt]; old != nil {
		return old, nil // made meanwhile by another goroutine
	}
	if signers.m == nil || signers.n >= maxCachedSigners {
		signers.m, signers.n = make(map[string]map[string]*Signer), 0
	}
	bySalt := signers.m[string(secret)]
	if bySalt == nil {
		bySalt = make(map[string]*Signer)
		signers.m[string(secret)] = bySalt
	}
	bySalt[salt] = s
	signers.n++
	return s, nil
}
