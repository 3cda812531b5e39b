// Package token signs and verifies Phoenix.Token tokens: a token signed by
// a Phoenix application verifies here and the reverse, given the same
// secret_key_base and salt. A typical use is the token a browser passes
// to phoenix.js (new Socket("/socket", {params: {token}})) and the
// server checks in its Connect callback; docs/tokens.md in the repository
// shows it end to end.
//
// A token is signed, not encrypted: anyone holding it can read its data,
// and only holders of the secret can make one. Phoenix.Token.encrypt/4
// tokens are not supported.
//
// # Where to start
//
// Make one [Signer] per secret and salt with [NewSigner] and keep it:
// it derives the key (PBKDF2, about 0.3 ms) once, after which
// [Signer.Verify] costs about a microsecond. The package-level [Sign]
// and [Verify] do the same through a small cache of Signers, for code
// that has no place to keep one.
//
//	signer, err := token.NewSigner(secretKeyBase, "user socket", nil)
//	tok, err := signer.Sign(user.ID, nil)        // in an HTTP handler
//	id, err := signer.Verify(tok, &token.VerifyOptions{MaxAge: 2 * time.Hour})
//
// # Compatibility
//
// The format is Plug.Crypto's (plug_crypto 2.x, which Phoenix 1.7 and
// 1.8 use): the key is PBKDF2-HMAC-SHA256 of the secret_key_base and the
// salt ([DeriveKey], [KeyOptions] for Phoenix's key_* options), and the
// token is "SFMyNTY." + base64url(term) + "." + base64url(HMAC-SHA256),
// unpadded, where term is :erlang.term_to_binary({data, signed_at_ms,
// max_age_s}). Sign makes the same token as Phoenix for the same data and
// signed_at (tested against tokens from Phoenix 1.7.24 on Erlang/OTP 25);
// Phoenix on OTP 26 or later writes atoms in another encoding, and maps
// of more than 32 keys in another order, so its tokens may differ in
// bytes, but each side verifies the other's. Verify also accepts what
// Plug.Crypto accepts and Sign never makes: HS384 and HS512 signatures,
// compressed terms, and the {data, signed_at} and %{data:, signed:}
// payloads of older releases.
//
// # Data
//
// Data is an Elixir term. Sign takes these Go values, and Verify gives
// them back as follows:
//
//	Go (Sign)                           Elixir             Go (Verify)
//	int, int8..int64, uint..uint64      integer            int64
//	*big.Int                            integer            int64, or *big.Int beyond int64
//	float64, float32                    float              float64
//	string, []byte                      binary ("text")    string
//	true, false, nil                    true, false, nil   true, false, nil
//	Atom("admin")                       :admin             Atom("admin")
//	Tuple{Atom("user"), 42}             {:user, 42}        Tuple{Atom("user"), int64(42)}
//	[]any, []string, other slices       list               []any
//	map[string]any, map[string]T        %{"id" => 1}       map[string]any
//	map[Atom]any, map[any]any, ...      %{id: 1}           map[any]any, keys as above
//
// Structs, pointers (other than *big.Int), NaN and infinities are
// refused: give a struct as a map, choosing string or Atom keys the way
// the Phoenix side expects them (an Elixir struct is a map with atom
// keys and a :__struct__ key). A list of integers 0..255 is what Erlang
// calls a string, and comes back as []any of int64. Verify refuses, as
// invalid, the terms that have no Go value: pids, references, functions,
// improper lists, and maps with list, tuple or map keys.
//
// # Age
//
// A token carries its signing time and a max age ([SignOptions]; one day
// by default). Verify applies the max age given in [VerifyOptions], or
// else the token's own, as Plug.Crypto does: a token exactly max age old
// is valid and one a millisecond older has expired ([ErrExpired]); a
// token claiming to be signed in the future is [ErrInvalid], unless the
// max age is [Infinity].
//
// # Concurrency
//
// A [Signer], and every function of the package, is safe for concurrent
// use.
package token
