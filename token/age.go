package token

import (
	"fmt"
	"math"
	"math/big"
	"time"
)

// claims takes apart the signed term as Plug.Crypto's decode/2 does:
// {data, signed_at_ms, max_age_s}, or the older {data, signed_at_ms} and
// %{data: data, signed: signed_at_ms} (Plug.Crypto 1.1 and Phoenix before
// it), which mean a max age of 86400 seconds.
func claims(term any) (data, signedAt any, maxAge age, err error) {
	def := age{ms: DefaultMaxAge.Milliseconds()}
	switch t := term.(type) {
	case Tuple:
		switch len(t) {
		case 3:
			maxAge, err = termAge(t[2])
			return t[0], t[1], maxAge, err
		case 2:
			return t[0], t[1], def, nil
		}
	case map[any]any:
		data, okData := t[Atom("data")]
		signed, okSigned := t[Atom("signed")]
		if okData && okSigned {
			return data, signed, def, nil
		}
	}
	return nil, nil, age{}, fmt.Errorf("%w: payload %T is not {data, signed_at, max_age}", ErrInvalid, term)
}

// age is a max age as Plug.Crypto's validate_age/2 reads it.
type age struct {
	infinite bool  // :infinity
	none     bool  // max_age <= 0: every token has expired
	ms       int64 // trunc(max_age * 1000)
}

// durationAge converts VerifyOptions.MaxAge (not zero).
func durationAge(d time.Duration) age {
	switch {
	case d == Infinity:
		return age{infinite: true}
	case d < 0:
		return age{none: true}
	}
	return age{ms: d.Milliseconds()}
}

// termAge converts the max age signed into a token: seconds as an
// integer or a float, or :infinity.
func termAge(v any) (age, error) {
	switch x := v.(type) {
	case Atom:
		if x == "infinity" {
			return age{infinite: true}, nil
		}
	case int64:
		if x <= 0 {
			return age{none: true}, nil
		}
		if x > math.MaxInt64/1000 {
			return age{ms: math.MaxInt64}, nil
		}
		return age{ms: x * 1000}, nil
	case *big.Int:
		if x.Sign() <= 0 {
			return age{none: true}, nil
		}
		return age{ms: math.MaxInt64}, nil
	case float64:
		if x <= 0 {
			return age{none: true}, nil
		}
		return age{ms: int64(min(x*1000, math.MaxInt64))}, nil
	}
	return age{}, fmt.Errorf("%w: max age %v", ErrInvalid, v)
}

// checkAge is Plug.Crypto's validate_age/2: a token of infinite max age
// is always valid; otherwise one signed in the future is invalid, and one
// signed more than max age ago has expired. A token exactly max age old
// is still valid.
func checkAge(signedAt any, a age, nowMs int64) error {
	switch {
	case a.infinite:
		return nil
	case a.none:
		return ErrExpired
	}
	switch s := signedAt.(type) {
	case int64:
		if s > nowMs {
			return ErrInvalid
		}
		// s+a.ms < nowMs without overflow: nowMs-s is at least 0, and
		// wraps below 0 only when s is so far back that it has expired.
		if d := nowMs - s; d < 0 || d > a.ms {
			return ErrExpired
		}
		return nil
	case float64:
		if s > float64(nowMs) {
			return ErrInvalid
		}
		if s+float64(a.ms) < float64(nowMs) {
			return ErrExpired
		}
		return nil
	case *big.Int: // beyond int64 milliseconds either way
		if s.Sign() > 0 {
			return ErrInvalid
		}
		return ErrExpired
	}
	return fmt.Errorf("%w: signed_at %v", ErrInvalid, signedAt)
}
