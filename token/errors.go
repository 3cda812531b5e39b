package token

import "errors"

// The results of a failed verification, Phoenix.Token's {:error, reason}.
// Verify returns them as they are, or wrapped with detail for a token
// whose signature is good but whose payload is not what Phoenix signs, so
// test for them with [errors.Is].
var (
	// ErrExpired is :expired: the token is older than its max age.
	ErrExpired = errors.New("token: expired")

	// ErrInvalid is :invalid: the token is malformed, its signature does
	// not match (another secret_key_base or salt, or tampering), or it
	// claims to be signed in the future.
	ErrInvalid = errors.New("token: invalid")

	// ErrMissing is :missing: the token is empty, Go's counterpart of
	// Phoenix's nil token.
	ErrMissing = errors.New("token: missing")
)
