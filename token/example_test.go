package token_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/pyrehq/pyre/token"
)

// The secret_key_base of the Phoenix application that shares tokens with
// this server (config :my_app, MyAppWeb.Endpoint, secret_key_base: ...).
var secretKeyBase = []byte("pyre-test-secret-key-base-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ")

// Sign a user id as Phoenix.Token.sign(endpoint, "user socket", 42) does,
// then verify it. Phoenix gives the same token for the same secret, salt,
// data and signed_at.
func Example() {
	signedAt := time.Unix(1764000000, 0)
	tok, err := token.Sign(secretKeyBase, "user socket", 42, &token.SignOptions{SignedAt: signedAt})
	if err != nil {
		panic(err)
	}
	fmt.Println(tok)

	userID, err := token.Verify(secretKeyBase, "user socket", tok, &token.VerifyOptions{Now: signedAt.Add(time.Hour)})
	fmt.Println(userID, err)

	// A day and a second later, the token has expired.
	_, err = token.Verify(secretKeyBase, "user socket", tok, &token.VerifyOptions{Now: signedAt.Add(token.DefaultMaxAge + time.Second)})
	fmt.Println(err, errors.Is(err, token.ErrExpired))
	// Output:
	// SFMyNTY.g2gDYSpuBgAA6Je2mgFiAAFRgA.rDVik9E8uI3tXG1f7Zo1h1CMA-_Bhg6LNuga_3unoRg
	// 42 <nil>
	// token: expired true
}

// A Signer derives the key once: keep one for the life of the server.
// Atoms are kept apart from strings: this signs Phoenix's
// %{user_id: 7, role: :admin}, and a map with atom keys comes back as a
// map[any]any with Atom keys.
func ExampleSigner() {
	signer, err := token.NewSigner(secretKeyBase, "user socket", nil)
	if err != nil {
		panic(err)
	}
	signedAt := time.Unix(1764000000, 0)
	tok, err := signer.Sign(map[token.Atom]any{"user_id": 7, "role": token.Atom("admin")},
		&token.SignOptions{SignedAt: signedAt, MaxAge: 2 * time.Hour})
	if err != nil {
		panic(err)
	}

	data, err := signer.Verify(tok, &token.VerifyOptions{Now: signedAt.Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	claims := data.(map[any]any)
	fmt.Printf("%T %v\n", claims[token.Atom("user_id")], claims[token.Atom("user_id")])
	fmt.Printf("%T %v\n", claims[token.Atom("role")], claims[token.Atom("role")])

	// The max age signed into the token applies: 2 hours, not a day.
	_, err = signer.Verify(tok, &token.VerifyOptions{Now: signedAt.Add(3 * time.Hour)})
	fmt.Println(err)
	// Output:
	// int64 7
	// token.Atom admin
	// token: expired
}

// A tuple such as {:user, 42} is a Tuple.
func ExampleTuple() {
	signedAt := time.Unix(1764000000, 0)
	tok, err := token.Sign(secretKeyBase, "user socket", token.Tuple{token.Atom("user"), 42}, &token.SignOptions{SignedAt: signedAt})
	if err != nil {
		panic(err)
	}
	data, err := token.Verify(secretKeyBase, "user socket", tok, &token.VerifyOptions{MaxAge: token.Infinity})
	if err != nil {
		panic(err)
	}
	t := data.(token.Tuple)
	fmt.Println(t[0] == token.Atom("user"), t[1])
	// Output:
	// true 42
}
